"""`python .ci/run_notebooks.py` runs notebooks in place with their outputs, and `nbdev_clean` keeps those outputs."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT/'.ci'/'run_notebooks.py'


def _nb(*cells):
    return {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': out,
                       'source': src} for i, (src, out) in enumerate(cells)],
            'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}


KEPT = [{'name': 'stdout', 'output_type': 'stream', 'text': ['from an earlier slow run\n']}]


def _write(path, nb): path.write_text(json.dumps(nb, indent=1), encoding='utf-8'); return path


def _run(*args):
    return subprocess.run([sys.executable, str(RUN), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _kinds(cell): return [o['output_type'] for o in cell['outputs']]


def test_run_notebooks_saves_outputs_and_skips_flagged_cells(tmp_path):
    good = _write(tmp_path/'good.ipynb', _nb(
        ('x = 6 * 7\nprint(x)', []),
        ('import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);', []),
        ('#| slow\nprint("slow")', KEPT),
        ('#| eval: false\nraise SystemExit("never run")', []),
        ('x + 1', [])))
    r = _run(good)
    assert r.returncode == 0, r.stdout + r.stderr
    cells = json.loads(good.read_text())['cells']
    assert cells[0]['outputs'][0]['text'] == ['42\n']
    assert 'image/png' in cells[1]['outputs'][-1]['data'], _kinds(cells[1])   # a figure, as an image
    assert cells[2]['outputs'] == KEPT                                          # flagged slow: left as it was
    assert cells[3]['outputs'] == []
    assert cells[4]['outputs'][0]['data']['text/plain'] == ['43']
    assert all(c['execution_count'] is None for c in cells)                     # nbdev_clean ran

    r = _run('--flags', 'slow', good)                                           # --flags slow runs it
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(good.read_text())['cells'][2]['outputs'][0]['text'] == ['slow\n']


def test_run_notebooks_leaves_a_failing_notebook_alone(tmp_path):
    nb = _nb(('print("first")', KEPT), ('1 / 0', []))
    bad = _write(tmp_path/'bad.ipynb', nb)
    before = bad.read_text()
    r = _run(bad, '--timeout', '60')
    assert r.returncode == 1
    assert 'bad.ipynb: FAILED' in r.stderr and 'ZeroDivisionError' in r.stderr, r.stderr
    assert bad.read_text() == before
    assert not list(tmp_path.glob('_run_*')), 'a temporary file was left behind'
    assert _run('--flags', 'fast', bad).returncode == 2                         # an unknown flag is refused


def test_nbdev_clean_keeps_outputs(tmp_path):
    "With this project's settings.ini, nbdev_clean drops execution counts and object ids but keeps every output."
    png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M/AAAADAQEAyf6S7wAAAABJRU5ErkJggg=='
    out = [{'data': {'image/png': png, 'text/plain': ['<Figure at 0x7f00aa>']}, 'execution_count': 3,
            'metadata': {}, 'output_type': 'execute_result'}]
    p = _write(tmp_path/'outs.ipynb', _nb(('plt.gcf()', out)))
    exe = Path(sys.executable).parent/'nbdev_clean'
    r = subprocess.run([str(exe) if exe.exists() else 'nbdev_clean', '--fname', str(p)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    o = json.loads(p.read_text())['cells'][0]['outputs'][0]
    assert o['data']['image/png'] == png and o['execution_count'] is None
    assert o['data']['text/plain'] == ['<Figure>']
