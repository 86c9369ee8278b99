"""Every notebook is committed with the outputs of a run top to bottom (`python .ci/run_notebooks.py`): readers on the
repository's web page, in JupyterLab before running anything, and on the documentation site see its results."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
MAX_NOTEBOOK = 800_000  # bytes: a notebook with its images stays well under 1 MB
MAX_IMAGE = 200_000     # bytes of one image as stored (base64): small figures, not photographs at full size
# A cell draws a figure if it calls matplotlib or one of the package's plotting helpers.
DRAWS = re.compile(r'\bplt\.|\.imshow\(|\.plot\(|\bplot_\w+\(|\bshow_(?!doc\b)\w+\(')


def directives(cell):
    lines = ''.join(cell['source']).splitlines()
    return {l.lstrip()[2:].strip().split(':')[0].split()[0] for l in lines if l.lstrip().startswith('#|') and l.lstrip()[2:].strip()}


def shown_code(nb):
    "The code cells a run executes by default or with --flags slow: not exported definitions, GPU-only or never-run ones."
    return [c for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).strip()
            and not directives(c) & {'export', 'exports', 'exporti', 'cuda', 'eval', 'default_exp'}]


def images(cell):
    return [v for o in cell.get('outputs', []) for k, v in o.get('data', {}).items() if k.startswith('image/')]


@pytest.mark.parametrize('path', NBS, ids=[p.stem for p in NBS])
def test_notebook_holds_its_outputs(path):
    nb = json.loads(path.read_text(encoding='utf-8'))
    cells = shown_code(nb)
    assert any(c.get('outputs') for c in cells), f'{path.name} holds no output: run python .ci/run_notebooks.py {path.relative_to(ROOT)}'
    errors = [i for i, c in enumerate(nb['cells']) for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert not errors, f'{path.name}: cells {errors} hold an error: the run that made the outputs failed'
    drawing = [i for i, c in enumerate(nb['cells']) if c in cells and DRAWS.search(''.join(c['source']))]
    if drawing:
        assert any(images(c) for c in cells), f'{path.name} draws figures (cells {drawing}) but holds no image output'
    big = [(i, len(''.join(v))) for i, c in enumerate(nb['cells']) for v in images(c) if len(''.join(v)) > MAX_IMAGE]
    assert not big, f'{path.name}: images over {MAX_IMAGE:,} bytes (cell, bytes): {big}; draw them smaller'
    size = path.stat().st_size
    assert size < MAX_NOTEBOOK, f'{path.name} is {size:,} bytes with its outputs; keep it under {MAX_NOTEBOOK:,}'


# What a reader should not meet in an output: a path of the machine the notebook ran on, a warning, the compiler's
# note about a missing GPU. `.ci/run_notebooks.py` keeps the last two out; a cell that prints a path prints a relative
# one (a temporary folder written as <tmp> would hide that the output came from a path of that machine).
UNWANTED = {'an absolute path': re.compile(r'(?<![\w.])/(?:tmp|root|home|work|usr|opt|var|private)/\S*'),
            'a stand-in for a path': re.compile(r'<tmp>'),
            'a warning': re.compile(r'\b\w+Warning\b|warnings\.warn\('),
            'a "No CUDA runtime" line': re.compile(r'No CUDA runtime'),
            'a log line of the profiler': re.compile(r'\w+\.cpp:\d+\] ')}


def output_texts(cell):
    "The text a reader sees in a cell's outputs: streams, text results and tracebacks."
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': yield ''.join(o['text'])
        for k, v in o.get('data', {}).items():
            if k.startswith('text/'): yield ''.join(v)
        if o.get('output_type') == 'error': yield '\n'.join(o.get('traceback', []))


def unwanted(nb) -> list:
    "(cell index, what, the text found) for each unwanted thing in the outputs of notebook `nb`."
    return [(i, what, m.group(0)[:80]) for i, c in enumerate(nb['cells']) for t in output_texts(c)
            for what, pat in UNWANTED.items() for m in pat.finditer(t)]


@pytest.mark.parametrize('path', NBS, ids=[p.stem for p in NBS])
def test_outputs_hold_no_path_warning_or_gpu_note(path):
    found = unwanted(json.loads(path.read_text(encoding='utf-8')))
    assert not found, f'{path.name} (cell, what, text): {found[:5]}; run python .ci/run_notebooks.py --clean-only'


def test_the_output_check_can_fail():
    nb = {'cells': [{'outputs': [{'output_type': 'stream', 'text': [
        '/home/me/venv/tqdm/auto.py:21: TqdmWarning: IProgress not found\n', 'saved to <tmp>/r.pt\n']}]},
        {'outputs': [{'output_type': 'stream', 'text': 'W1201 [0/0] No CUDA runtime is found\n'}]},
        {'outputs': [{'output_type': 'stream', 'text': 'USDT:2026-12-04 15:53:51 1:1 X.cpp:39] start\n'}]}]}
    assert [(i, what) for i, what, _ in unwanted(nb)] == [
        (0, 'an absolute path'), (0, 'a stand-in for a path'), (0, 'a warning'),
        (1, 'a "No CUDA runtime" line'), (2, 'a log line of the profiler')]


def test_run_notebooks_keeps_them_out():
    """The cleaning of `.ci/run_notebooks.py` removes the warnings, the GPU note and the widgets; a path it leaves
    as it is, for the check above to find."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('run_notebooks', ROOT/'.ci'/'run_notebooks.py')
    rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)
    nb = {'cells': [{'outputs': [{'output_type': 'stream', 'name': 'stderr', 'text': [
        '/home/me/venv/tqdm/auto.py:21: TqdmWarning: IProgress not found.\n', '  from .x import y\n']},
        {'output_type': 'stream', 'name': 'stdout', 'text': ['saved to runs/r.pt\n', 'loss 0.5\n']},
        {'output_type': 'stream', 'name': 'stderr', 'text': 'W1201 [0/0] No CUDA runtime is found\n'},
        {'output_type': 'stream', 'name': 'stderr', 'text': [
            'ERROR:2026-12-04 15:53:51 19544:19544 DeviceProperties.cpp:56] gpuGetDeviceCount failed\n']},
        {'output_type': 'display_data', 'data': {'application/vnd.jupyter.widget-view+json': {'model_id': 'a1'},
                                                 'text/plain': ['  0%|          | 0/30']}}]}]}
    rn.clean_outputs(nb)
    assert nb['cells'][0]['outputs'] == [
        {'output_type': 'stream', 'name': 'stdout', 'text': ['saved to runs/r.pt\n', 'loss 0.5\n']}]
    assert unwanted(nb) == []
    path = {'cells': [{'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': 'in /tmp/tmpab_12x\n'}]}]}
    rn.clean_outputs(path)
    assert [what for _, what, _ in unwanted(path)] == ['an absolute path']


def test_figures_are_stored_as_palette_pngs():
    """`clean_outputs` stores a plot as a palette PNG: fewer bytes, every pixel close to the figure drawn (a few
    antialiased edges move), a figure of few colours exactly; a second cleaning changes nothing, and an image with
    transparent pixels is kept as it was."""
    import base64, importlib.util, io
    import numpy as np
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from PIL import Image
    spec = importlib.util.spec_from_file_location('run_notebooks', ROOT/'.ci'/'run_notebooks.py')
    rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)

    def png(fig=None, arr=None):
        buf = io.BytesIO()
        if fig is not None: fig.savefig(buf, format='png', dpi=75); plt.close(fig)
        else: Image.fromarray(arr).save(buf, 'PNG')
        return base64.b64encode(buf.getvalue()).decode('ascii') + '\n'
    pixels = lambda b64: np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert('RGB')).astype(int)

    fig, ax = plt.subplots(figsize=(6, 3))
    x = np.linspace(0, 6, 200)
    for k in range(6): ax.errorbar(x[::20], np.sin(x[::20] + k), 0.1, marker='o', label=f'run {k}')
    ax.plot(x, np.cos(x)); ax.legend(); ax.set_title('a plot of many antialiased colours')
    plot = png(fig)
    assert len(np.unique(pixels(plot).reshape(-1, 3), axis=0)) > 256
    nb = {'cells': [{'outputs': [{'output_type': 'display_data', 'data': {'image/png': plot}}]}]}
    rn.clean_outputs(nb)
    small = nb['cells'][0]['outputs'][0]['data']['image/png']
    assert len(small) < 0.7 * len(plot)
    d = np.abs(pixels(small) - pixels(plot))
    assert d.mean() < 1.5 and d.max() <= 40, (d.mean(), d.max())
    assert Image.open(io.BytesIO(base64.b64decode(small))).mode == 'P'
    assert rn.palette_png(small) == small

    rng = np.random.default_rng(0)
    grid = rng.integers(0, 200, (64, 64, 3), dtype=np.uint8) // 10 * 10  # 20 levels a channel, random
    grid[:, :, 1] = grid[:, :, 0]; grid[:, :, 2] = 255 - grid[:, :, 0]  # so 20 colours in all
    few = png(arr=np.kron(grid, np.ones((4, 4, 1), dtype=np.uint8)))
    assert Image.open(io.BytesIO(base64.b64decode(rn.palette_png(few)))).mode == 'P'
    assert (pixels(rn.palette_png(few)) == pixels(few)).all()

    rgba = np.full((40, 40, 4), 255, dtype=np.uint8); rgba[:10, :, 3] = 0
    clear = png(arr=rgba)
    assert rn.palette_png(clear) == clear
