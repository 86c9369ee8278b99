#!/usr/bin/env python
"""Build the documentation site into `_docs/`, offline and without Quarto: `python .ci/build_docs.py`.

1. nbdev's own processor (`nbdev.serve.proc_nbs`, the step `nbdev_docs` runs before Quarto) writes each notebook as a
   page into `_proc/`: `#| hide` cells dropped, `#| export` sources hidden, `show_doc` cells run, names linked.
2. A small conversion (this file) turns each processed notebook into a page for Sphinx with myst-nb: the front matter
   becomes the title, Quarto's cell options become myst-nb's cell tags, links into the Quarto site become links to
   this site's pages and API reference, and the home page gets the table of contents.
3. Sphinx builds the site with the furo theme (settings in `.ci/docs/conf.py`); sphinx-autoapi writes the API
   reference of every exported function and class from the package's source.

Open `_docs/index.html` in a browser. `--nbs DIR` builds from the notebooks in DIR instead of `nbs/` (an executed
copy, say). The site is checked in a real browser by `python -m pytest -q tests/test_docs.py`.
"""
import argparse, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
CELL_KEYS = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}
NB_OPTIONS = {'echo: false': 'remove-input', 'output: false': 'remove-output', 'include: false': 'remove-cell'}


def page_names(nbs):
    "Each notebook's page name, as Quarto names its page: `04_train.ipynb` -> `train` (nbdev's `output-file`)."
    return {p.name: re.sub(r'^\d+_', '', p.stem) for p in sorted(nbs.glob('*.ipynb')) if not p.name.startswith(('_', '.'))}


def symbol_targets():
    "Map nbdev's doc-link targets (`train.html#fit`) to qualified names (`dnd_nano.train.fit`), from `_modidx.py`."
    from nbdev.config import get_config
    from importlib import import_module
    cfg = get_config()
    d = import_module(f'{cfg.lib_name}._modidx').d
    return {url.lower(): name for mod in d['syms'].values() for name, (url, _) in mod.items()}


def split_frontmatter(cell):
    "The YAML between `---` lines of nbdev's front-matter cell, or None for any other cell."
    if cell['cell_type'] != 'raw': return None
    src = ''.join(cell['source']).strip()
    if not (src.startswith('---') and src.endswith('---')): return None
    import yaml
    return yaml.safe_load(src.strip('-')) or {}


class Linker:
    "Rewrites markdown links that point into the Quarto site (`doc_host/doc_baseurl`) to this site's pages and API."
    def __init__(self, site_url, pages, symbols):
        self.site_url, self.pages, self.symbols = site_url.rstrip('/') + '/', pages, symbols
        self.by_html = {f'{p}.html': p for p in pages.values()}
        self.link_re = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)(\{[^}\n]*\})?')
        stems = '|'.join(re.escape(Path(n).stem) for n in pages)
        self.stem_re = re.compile(rf'(?<![\[\w])`({stems})`(?![\]\w])') if stems else None

    def target(self, url):
        "The MyST link for `url`, or None to leave it as it is."
        if url.startswith(self.site_url): url = url[len(self.site_url):]
        elif '://' in url or url.startswith(('#', 'mailto:')): return None
        page, _, frag = url.partition('#')
        if f'{page}#{frag}'.lower() in self.symbols: return 'sym', self.symbols[f'{page}#{frag}'.lower()]
        name = self.by_html.get(page) or self.pages.get(page)
        if name: return 'page', f'{name}.ipynb' + (f'#{frag}' if frag else '')
        return None

    def __call__(self, md):
        def link(m):
            text, url, attrs = m.groups()
            t = self.target(url)
            if t is None: return m.group(0) if not attrs or '://' not in url else f'[{text}]({url})'
            kind, dest = t
            if kind == 'sym': return f'{{py:obj}}`{text.strip("`")} <{dest}>`'
            return f'[{text}]({dest})'
        md = self.link_re.sub(link, md)
        # `04_train` in prose (the home page's table of notebooks) links to that notebook's page.
        if self.stem_re: md = self.stem_re.sub(lambda m: f'[`{m.group(1)}`]({self.pages[m.group(1) + ".ipynb"]}.ipynb)', md)
        return md


def cell_options(src):
    "Split a code cell into its `#|` option lines and the code."
    lines = src.splitlines()
    opts = []
    while lines and lines[0].lstrip().startswith('#|'): opts.append(lines.pop(0).lstrip()[2:].strip())
    return opts, '\n'.join(lines)


def to_page(nb, link, toc=None):
    "A processed notebook (JSON) as a myst-nb page: title from the front matter, cell options as tags, links rewritten."
    cells, title = [], None
    for cell in nb['cells']:
        fm = split_frontmatter(cell)
        if fm is not None:
            title = fm.get('title')
            head = f"# {title}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
            cells.append({'cell_type': 'markdown', 'id': cell.get('id', 'title'), 'metadata': {}, 'source': head})
            continue
        src = ''.join(cell['source'])
        cell = {k: v for k, v in cell.items() if k in CELL_KEYS}  # nbdev adds keys (`has_sd`) that nbformat refuses
        if cell['cell_type'] == 'markdown':
            cell['source'] = link(src)
        elif cell['cell_type'] == 'code':
            opts, code = cell_options(src)
            tags = [NB_OPTIONS[o] for o in opts if o in NB_OPTIONS]
            cell['source'] = code
            cell['metadata'] = {'tags': tags} if tags else {}
            for o in cell.get('outputs', []):
                md = o.get('data', {}).get('text/markdown')
                # show_doc opens with a rule (`---`), which docutils allows only between sections: drop it.
                if md is not None: o['data']['text/markdown'] = link(re.sub(r'\A\s*---\s*\n', '', ''.join(md)))
        cells.append(cell)
    if title is None: raise SystemExit(f'{nb.get("_src")}: no front matter; does the notebook open with "# Title"?')
    if toc: cells.append({'cell_type': 'markdown', 'id': 'toctree', 'metadata': {}, 'source': toc})
    nb['cells'] = cells
    nb.setdefault('metadata', {}).setdefault('language_info', {'name': 'python'})
    return nb


def toctree(caption, entries):
    return '```{toctree}\n:hidden:\n:caption: ' + caption + '\n\n' + '\n'.join(entries) + '\n```'


def build(nbs, out, quiet=True):
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    t0 = time.time()
    cfg = get_config()
    pages = page_names(nbs)
    if 'index.ipynb' not in pages: raise SystemExit(f'{nbs} has no index.ipynb for the home page.')

    # 1. nbdev's processing, serially in this process (n_workers=0) so that an error stops the build and is shown.
    proc = proc_nbs(path=str(nbs), n_workers=0, force=True)
    missing = [n for n in pages if not (proc/n).exists()]
    if missing: raise SystemExit(f'nbdev did not process {missing}: see the error above.')
    t1 = time.time()

    # 2. The pages for Sphinx.
    src = proc/'_sphinx'
    shutil.rmtree(src, ignore_errors=True); src.mkdir(parents=True)
    if (nbs/'images').is_dir(): shutil.copytree(nbs/'images', src/'images')  # figures the notebooks' markdown shows
    link = Linker(cfg.doc_host + cfg.doc_baseurl, pages, symbol_targets())
    notebooks = [p for n, p in pages.items() if n != 'index.ipynb']
    toc = toctree('Notebooks', notebooks) + '\n\n' + toctree('API reference', ['api/dnd_nano/index'])
    for name, page in pages.items():
        nb = json.loads((proc/name).read_text(encoding='utf-8'))
        nb['_src'] = name
        nb = to_page(nb, link, toc if name == 'index.ipynb' else None)
        nb.pop('_src')
        (src/f'{page}.ipynb').write_text(json.dumps(nb, indent=1), encoding='utf-8')

    # 3. Sphinx. A fresh output folder each time, so that no page of an earlier build survives.
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-E', '-c', str(root/'.ci'/'docs'), '-d', str(proc/'_doctrees'),
           str(src), str(out)] + (['-q'] if quiet else [])
    r = subprocess.run(cmd, cwd=root)
    if r.returncode: raise SystemExit(f'sphinx-build failed (exit {r.returncode}): {" ".join(cmd)}')
    t2 = time.time()
    print(f'Built {out/"index.html"}: {len(pages)} notebook pages and the API reference '
          f'(nbdev {t1 - t0:.0f} s, Sphinx {t2 - t1:.0f} s).')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--nbs', type=Path, default=None, help='folder of notebooks (default: nbs/)')
    ap.add_argument('--out', type=Path, default=root/'_docs', help='where the site goes (default: _docs/)')
    ap.add_argument('--verbose', action='store_true', help="show Sphinx's progress")
    a = ap.parse_args()
    os.chdir(root)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    nbs = (a.nbs or root/'nbs').resolve()
    if not nbs.is_dir(): raise SystemExit(f'--nbs {nbs}: no such folder.')
    build(nbs, a.out.resolve(), quiet=not a.verbose)
