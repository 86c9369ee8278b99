"""Sphinx settings for the documentation site. `python .ci/build_docs.py` uses them; see that file."""
from configparser import ConfigParser
from pathlib import Path

root = Path(__file__).resolve().parents[2]
cfg = ConfigParser(delimiters=['='])
cfg.read(root/'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

project = cfg['lib_name']
author = cfg['author']
copyright = cfg['copyright']
release = version = cfg['version']

extensions = ['myst_nb', 'autoapi.extension']
root_doc = 'index'
exclude_patterns = ['**.ipynb_checkpoints']

# The notebooks come with their outputs; nothing is executed while the site is built.
nb_execution_mode = 'off'
# `show_doc` writes MyST markdown (a signature block, links to the API reference): render it as such.
nb_render_markdown_format = 'myst'
# No script from a CDN: the site must work offline.
nb_ipywidgets_js = {}
myst_enable_extensions = ['colon_fence']
myst_heading_anchors = 3

# The API reference: every module of the package, read from its source (nothing is imported), and in each module
# only the names in its `__all__`, the names `#| export` cells export.
autoapi_type = 'python'
autoapi_dirs = [str(root/cfg['lib_path'])]
autoapi_root = 'api'
autoapi_ignore = ['*_modidx.py']
autoapi_options = ['members', 'undoc-members', 'show-inheritance', 'show-module-summary']
autoapi_member_order = 'bysource'
autoapi_add_toctree_entry = False  # the home page's table of contents places it
autoapi_keep_files = False
# Docstrings use `name` for code, as markdown does.
default_role = 'code'

html_theme = 'furo'
html_title = cfg['lib_name']
html_short_title = cfg['lib_name']
html_favicon = 'favicon.svg'  # without one, browsers ask for /favicon.ico and log its 404 as an error
html_copy_source = False
html_show_sourcelink = False
