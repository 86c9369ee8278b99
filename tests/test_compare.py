"The comparison's command line, and the one script that runs every GPU check, at test sizes on the CPU."
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}

def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=900, cwd=ROOT)

def test_help():
    res = run('-m', 'dnd_nano.compare', '--help')
    assert res.returncode == 0, res.stderr
    assert 'usage: dnd_nano_compare' in res.stdout and '--resume' in res.stdout

def test_a_bad_argument_is_refused_before_any_work(tmp_path):
    res = run('-m', 'dnd_nano.compare', '--out', str(tmp_path/'c'), '--set', 'seeds=0')
    assert res.returncode == 2 and 'seeds=0 must be a whole number, at least 1' in res.stderr, res.stderr
    assert not (tmp_path/'c').exists()

def test_gpu_checks_plumbing(tmp_path):
    "Every stage of .ci/gpu_checks.py at test sizes: each finishes, and the JSON holds its figures."
    res = run(str(ROOT/'.ci'/'gpu_checks.py'), '--quick', '--device', 'cpu', '--out', str(tmp_path))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    out = json.loads((tmp_path/'gpu_checks.json').read_text())
    assert set(out['seconds']) == {'compare', 'bench', 'demo'}
    assert set(out['compare']['summary']) == {'dnd', '1d'} and 'bits_per_image' in out['compare']['summary']['dnd']
    assert set(out['bench']['variants']) == {'dnd', 'vertical', 'parallel', 'flat', 'rq'}
    assert 0 <= out['demo']['valid'] <= out['demo']['legible'] <= 1

def test_charts_comparison_scores_its_samples_with_the_chart_reader(tmp_path):
    "--data charts: every run is scored by the chart reader; the reads kept are those of the samples kept."
    import torch
    from dnd_nano.charts import read_chart
    out = tmp_path/'c'
    res = run('-m', 'dnd_nano.compare', '--data', 'charts', '--out', str(out), '--variants', 'dnd,flat', '--set',
              'tok_steps=4', 'tok_batch=8', 'n_train=64', 'n_test=16', 'seeds=2', 'steps=6', 'batch_size=8', 'eval_every=3',
              'curve_n=8', 'n_samples=8', 'tok_set=channels=16,latent_dim=8,codebook_size=32,n_depth=2',
              'model_set=n_layer=4,n_embd=32,n_head=2', 'inject_scales=')  # no plain-sum dnd-x1 run here
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert '| labels = bars |' in res.stdout
    r = json.loads((out/'results.json').read_text())
    assert set(r['summary']) == {'dnd', 'flat'}
    for name, runs in r['runs'].items():
        for one in runs:
            s = one['samples']
            assert 0 <= s['consistent'] <= s['legible'] <= 1 and 0 <= s['chance'] <= 1, s
        imgs = torch.load(out/'runs'/f'{name}_seed0'/'samples.pt', weights_only=True).float() / 255
        assert [c.text for c in read_chart(imgs)] == runs[0]['reads'][:len(imgs)]

def test_a_pool_of_two_processes_gives_the_same_figures(tmp_path):
    "jobs=2 trains the same runs as jobs=1: the same bits, up to float sums on other threads."
    from dnd_nano.compare import compare, compare_config
    cc = compare_config('test', variants=('dnd', 'flat', '1d'), placements=())
    one = compare(cc, tmp_path/'one', device='cpu', say=lambda *a: None)
    two = compare(cc, tmp_path/'two', device='cpu', say=lambda *a: None, jobs=2)
    assert set(one['summary']) == set(two['summary']) == {'dnd', 'flat', '1d'}
    for name in one['summary']:
        a, b = (r['summary'][name]['bits_per_image']['values'] for r in (one, two))
        assert len(a) == len(b) == 2 and all(abs(x - y) < 1e-3 for x, y in zip(a, b)), (name, a, b)
