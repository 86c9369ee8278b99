#!/usr/bin/env python
"""Run every notebook top to bottom in a fresh Jupyter kernel and save it with its outputs: `python .ci/run_notebooks.py`.

Cells flagged with one of settings.ini's `tst_flags` (`#| slow`, `#| cuda`, `#| notest`) are skipped, as `nbdev_test`
skips them, and keep the outputs they already have; `--flags slow` (or `--flags 'slow cuda'` on a GPU) runs them too.
Cells marked `#| eval: false` are never run. A notebook is written only when every cell it ran succeeded, and then
cleaned with `nbdev_clean` (which keeps outputs). Figures come out as PNG images, as in JupyterLab.

    python .ci/run_notebooks.py                        # every notebook in nbs/, in place
    python .ci/run_notebooks.py nbs/04_train.ipynb     # one notebook
    python .ci/run_notebooks.py --flags slow --timeout 3600   # with the slow cells ('slow cuda' on a GPU)
    python .ci/run_notebooks.py --out /tmp/executed    # executed copies elsewhere; nbs/ is left alone
    python .ci/run_notebooks.py --clean-only           # only clean the outputs already stored (no run)

The outputs are kept free of what a reader should not see (`clean_outputs`): Python warnings and the compiler's
"No CUDA runtime" line are dropped, and the profiler's log lines, so are widgets (a progress bar's
state stays with its kernel). A cell that prints a path prints a relative one, so no output names a folder of this
machine (tests/test_outputs.py checks). Each opaque figure is stored as a palette PNG of at most 256 colours
(`palette_png`), about a third of the bytes: exact for a figure of 256 colours or fewer (sample grids), nearly so
for plots (a few antialiased edge pixels move by up to about 15 of 255), so a notebook of many figures stays small.
"""
import argparse, base64, io, json, os, re, shutil, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def cell_flags(source):
    "The `#|` directives at the top of a code cell, as a dict of name -> the rest of the line."
    out = {}
    for line in source.splitlines():
        if not line.lstrip().startswith('#|'): break
        name, _, rest = line.lstrip()[2:].strip().partition(' ')
        out[name.rstrip(':')] = rest.strip()
    return out


def should_run(cell, skip_flags):
    if cell.cell_type != 'code' or not cell.source.strip(): return False
    d = cell_flags(cell.source)
    if d.get('eval', '').lower() == 'false': return False
    return not (set(d) & skip_flags)


def _screen(text):
    "What a terminal or JupyterLab shows of `text`: each carriage return starts its line over."
    return '\n'.join(line.rsplit('\r', 1)[-1] if '\r' in line.rstrip('\r') else line.rstrip('\r')
                     for line in text.split('\n'))


def collapse_streams(nb):
    """Merge each cell's consecutive outputs on the same stream and keep what the screen shows: progress bars redraw
    their line with carriage returns, and only their last state is kept (as JupyterLab displays them)."""
    for cell in nb.cells:
        outs = []
        for o in cell.get('outputs', []):
            if o.get('output_type') == 'stream' and outs and outs[-1].get('output_type') == 'stream' \
                    and outs[-1].get('name') == o.get('name'):
                outs[-1]['text'] += o['text']
            else: outs.append(o)
        for o in outs:
            if o.get('output_type') == 'stream': o['text'] = _screen(o['text'])
        if 'outputs' in cell: cell['outputs'] = outs
    return nb


WARNING = re.compile(r'^\S*:\d+: \w*Warning: ')        # "file:line: XWarning: message", its source line after
# the compiler's note on a machine without a GPU; the profiler's own log lines (file.cpp:line])
NOISE = re.compile(r'No CUDA runtime is found|^\w+:[\d-]+ [\d:]+ \d+:\d+ \w+\.cpp:\d+\]')


def clean_text(text):
    "`text` without warnings (a warning line and the indented source line after it) and noise lines."
    out, skip_source = [], False
    for line in text.split('\n'):
        if skip_source and line.startswith((' ', '\t')): skip_source = False; continue
        skip_source = bool(WARNING.match(line))
        if skip_source or NOISE.search(line): continue
        out.append(line)
    return '\n'.join(out)


def palette_png(b64):
    """The base64 PNG `b64` stored as a palette PNG of at most 256 colours (max-coverage, no dithering) where that
    is smaller; an image with transparent pixels, or one already a palette, is returned as it is."""
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    if im.mode == 'P' or (im.mode in ('RGBA', 'LA') and im.getchannel('A').getextrema()[0] < 255): return b64
    q = im.convert('RGB').quantize(256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    buf = io.BytesIO(); q.save(buf, 'PNG', optimize=True)
    out = base64.b64encode(buf.getvalue()).decode('ascii') + '\n'
    return out if len(out) < len(b64) else b64


def clean_outputs(nb):
    """Clean every stream and text output of `nb` (a dict or a NotebookNode) in place; drop streams left empty;
    store figures as palette PNGs (`palette_png`)."""
    for cell in nb['cells']:
        if 'outputs' not in cell: continue
        outs = []
        for o in cell['outputs']:
            as_before = lambda new, old: new.splitlines(True) if isinstance(old, list) else new
            # a widget (a progress bar in JupyterLab) cannot be shown without its kernel: its text is its first state
            if 'application/vnd.jupyter.widget-view+json' in o.get('data', {}): continue
            if isinstance(png := o.get('data', {}).get('image/png'), (str, list)):
                o['data']['image/png'] = palette_png(''.join(png))
            if o.get('output_type') == 'stream':
                text = clean_text(''.join(o['text']))
                if not text.strip(): continue
                o['text'] = as_before(text, o['text'])
            outs.append(o)
        cell['outputs'] = outs
    return nb


def clean_only(path):
    "Clean the outputs stored in the notebook at `path`, without running it; whether anything changed."
    nb = json.loads(path.read_text(encoding='utf-8'))
    before = json.dumps(nb)
    clean_outputs(nb)
    if json.dumps(nb) == before: return False
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    from nbdev.clean import nbdev_clean
    nbdev_clean.__wrapped__(fname=str(path))
    return True


def run_notebook(path, dest, skip_flags, timeout):
    "Execute `path` cell by cell in a new kernel; write it to `dest` when no cell failed. Returns (cells run, seconds)."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3', allow_errors=False,
                            resources={'metadata': {'path': str(path.parent)}})
    t0, n = time.time(), 0
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if not should_run(cell, skip_flags): continue
            client.execute_cell(cell, i)
            n += 1
    collapse_streams(nb)
    clean_outputs(nb)
    # Write next to the target, then move, so that an interrupted run never leaves half a notebook.
    fd, tmp = tempfile.mkstemp(prefix='_run_', suffix='.ipynb', dir=dest.parent); os.close(fd)
    nbformat.write(nb, tmp)
    from nbdev.clean import nbdev_clean
    nbdev_clean.__wrapped__(fname=tmp)
    os.replace(tmp, dest)
    return n, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', type=Path, help='notebooks to run (default: every notebook in nbs/)')
    ap.add_argument('--flags', default='', help="also run the cells with these flags, as nbdev_test: 'slow' or 'slow cuda'")
    ap.add_argument('--timeout', type=float, default=600, help='seconds one cell may take before the run fails (600)')
    ap.add_argument('--out', type=Path, default=None, help='write the executed notebooks here instead of in place')
    ap.add_argument('--clean-only', action='store_true', help='clean the stored outputs only; run nothing')
    a = ap.parse_args(argv)
    os.chdir(root)
    from nbdev.config import get_config
    cfg = get_config()
    known = set(cfg.tst_flags.split())
    flags = set(a.flags.split())
    unknown = flags - known
    if unknown: ap.error(f'--flags {sorted(unknown)}: settings.ini knows only {sorted(known)}.')
    if not a.timeout > 0: ap.error(f'--timeout {a.timeout}: give a number of seconds above 0.')
    nbs = a.notebooks or sorted(p for p in (root/cfg.nbs_path).glob('*.ipynb') if not p.name.startswith(('_', '.')))
    nbs = [p.resolve() for p in nbs]
    bad = [str(p) for p in nbs if not (p.is_file() and p.suffix == '.ipynb')]
    if bad: ap.error(f'not a notebook: {bad}')
    if a.clean_only:
        for p in nbs: print(f"{p.name}: {'cleaned' if clean_only(p) else 'clean already'}")
        return 0
    # The kernel shows figures as images only with the inline backend; a backend set for scripts (Agg) would hide them.
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    if a.out: a.out.mkdir(parents=True, exist_ok=True)
    skip, failed, t0 = known - flags, [], time.time()
    for p in nbs:
        dest = (a.out.resolve()/p.name) if a.out else p
        try:
            n, s = run_notebook(p, dest, skip, a.timeout)
            print(f'{p.name}: {n} cells in {s:.0f} s -> {dest}', flush=True)
        except Exception as e:
            failed.append(p.name)
            print(f'{p.name}: FAILED, left as it was:\n{e}', file=sys.stderr, flush=True)
    if a.out:  # the executed copies are built into docs with the rest of the notebook folder
        for f in (root/cfg.nbs_path).iterdir():
            if f.is_file() and not (a.out/f.name).exists(): shutil.copy2(f, a.out/f.name)
    print(f'{len(nbs) - len(failed)} of {len(nbs)} notebooks run in {time.time() - t0:.0f} s'
          + (f'; failed: {failed}' if failed else '.'))
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main())
