#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb, or with --check fail when README.md is out of step.

Quarto (and so `nbdev_readme`) is not available everywhere, so the README is made here by a plain conversion:
markdown cells as they are, code cells as fenced Python, text outputs as fenced text. Cells marked `#| hide` are left out
and `#|` directive lines are dropped. Links to images next to the notebook (`images/...`) are made relative to the
repository's root, where README.md is.
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
HEADER = '<!-- Made from nbs/index.ipynb by `python .ci/make_readme.py`: edit the notebook, not this file. -->\n\n'

def cell_text(cell):
    src = ''.join(cell['source'])
    lines = src.splitlines()
    directives = [l for l in lines if l.strip().startswith('#|')]
    if any(d.replace(' ', '') in ('#|hide', '#|exporti', '#|export') or 'default_exp' in d for d in directives): return None
    if cell['cell_type'] == 'markdown': return re.sub(r'\]\(images/', '](nbs/images/', src.strip())
    code = '\n'.join(l for l in lines if not l.strip().startswith('#|')).strip()
    if not code: return None
    out = [f'```python\n{code}\n```']
    for o in cell.get('outputs', []):
        text = ''.join(o.get('text', '')) or ''.join(o.get('data', {}).get('text/plain', ''))
        if text.strip(): out.append(f'```\n{text.rstrip()}\n```')
    return '\n\n'.join(out)

def make_readme() -> str:
    nb = json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    parts = [t for t in map(cell_text, nb['cells']) if t]
    return HEADER + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = make_readme(), root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of step with nbs/index.ipynb: run `python .ci/make_readme.py` and commit both.')
        print('README.md matches nbs/index.ipynb.')
    else:
        readme.write_text(text, encoding='utf-8'); print('wrote README.md')
