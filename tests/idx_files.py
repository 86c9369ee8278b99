"Write idx files (MNIST's format) independently of the reader under test."
import gzip
import numpy as np

def write_idx(path, a: np.ndarray):
    "Write `a` as an idx file (gzipped when the name ends in .gz)."
    code = {np.dtype('uint8'): 0x08, np.dtype('int8'): 0x09, np.dtype('>i2'): 0x0B, np.dtype('>i4'): 0x0C,
            np.dtype('>f4'): 0x0D, np.dtype('>f8'): 0x0E}[a.dtype]
    data = bytes([0, 0, code, a.ndim]) + b''.join(int(n).to_bytes(4, 'big') for n in a.shape) + a.tobytes()
    with (gzip.open if str(path).endswith('.gz') else open)(path, 'wb') as f: f.write(data)
