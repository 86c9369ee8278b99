__version__ = "0.1.0"

# The static decoders of `11_speed` register themselves in `sample.DECODERS` when imported:
# importing them with the package makes `generate(..., decoder='frozen')` work whichever module a
# program imports first.
from . import speed
