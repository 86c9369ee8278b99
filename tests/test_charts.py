"Bar charts: impossible settings, determinism across processes, the reader's acceptance on 1,000 charts, the chance level, the command line."
import hashlib, itertools, os, subprocess, sys
import numpy as np
import pytest
import torch
from dnd_nano.charts import ChartConfig, ChartImages, ChartRead, chart_scores, read_chart, render_chart

pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py

# ---- impossible settings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('make,match', [
    (lambda: ChartConfig(values=(0, 9)), 'a bar of value 0'),
    (lambda: ChartConfig(values=(5, 3)), r'need 1 <= lo <= hi'),
    (lambda: ChartConfig(values=9), 'values=9 should be a pair'),
    (lambda: ChartConfig(values=(1, 10)), 'raise slot to 12'),
    (lambda: ChartConfig.large(values=(1, 100)), 'raise slot to 16'),
    (lambda: ChartConfig(slot=10), 'multiple of the character cell width, 4 px'),
    (lambda: ChartConfig.double(slot=12), 'multiple of the character cell width, 8 px'),
    (lambda: ChartConfig(bar_width=8), 'bars touch'),
    (lambda: ChartConfig(n_bars=(2, 5)), '5 bars 8 px apart need 40 px'),
    (lambda: ChartConfig(n_bars=0), 'n_bars=0'),
    (lambda: ChartConfig(n_bars=(3, 2)), 'lo <= hi'),
    (lambda: ChartConfig(unit=3), 'The chart does not fit'),
    (lambda: ChartConfig(bottom=9), 'The chart does not fit'),  # bottom=8 fits exactly
    (lambda: ChartConfig(unit=1, bar_width=1), 'fewer than 2 pixels'),
    (lambda: ChartConfig(font='9x9'), "Unknown font '9x9'"),
    (lambda: ChartConfig(scale=0), 'scale=0'),
    (lambda: ChartConfig(noise=float('inf')), 'noise=inf'),
    (lambda: ChartImages(2.5), 'n=2.5 must be a whole number'),
    (lambda: ChartImages(4, unit=0), 'unit=0'),
    (lambda: render_chart([0, 3]), r'each must lie in \[1, 9\]'),
    (lambda: render_chart([]), 'give 1 to 4 values'),
    (lambda: render_chart([3, 4], labels=[3]), 'as many labels'),
    (lambda: render_chart([3], labels=[-1]), 'from 0 to 9'),
    (lambda: read_chart(torch.zeros(2, 1, 28, 28)), r'\(B, 1, 32, 32\)'),
    (lambda: read_chart(torch.zeros(2, 1, 32, 32), max_shift=2), 'max_shift=2 is too large'),
    (lambda: read_chart(torch.full((1, 32, 32), 2.0)), r'must lie in \[0, 1\]'),
])
def test_impossible_settings_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match): make()

# ---- determinism --------------------------------------------------------------------------------------------------

MAKERS = ["ChartImages(50, seed=3, noise=0.2)", "ChartImages.large(50, seed=4)"]
SNIPPET = """
import hashlib
from dnd_nano.charts import ChartImages
for ds in [{makers}]:
    for i in (7, 8): print(hashlib.sha256(ds[i][0].numpy().tobytes()).hexdigest(), ds.values(i))
"""

def fingerprints_in_fresh_process():
    out = subprocess.run([sys.executable, '-c', SNIPPET.format(makers=', '.join(MAKERS))], capture_output=True,
                         text=True, check=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    return out.stdout.split('\n')[:-1]

def test_same_bytes_in_fresh_processes():
    "Two fresh interpreters give the same bytes for the same items as this one, which first drew other items."
    here = []
    for make in MAKERS:
        ds = eval(make, {'ChartImages': ChartImages})
        _ = [ds[i] for i in (9, 1)]  # touching other items first must not matter
        here += [f"{hashlib.sha256(ds[i][0].numpy().tobytes()).hexdigest()} {ds.values(i)}" for i in (7, 8)]
    a, b = fingerprints_in_fresh_process(), fingerprints_in_fresh_process()
    assert a == b == here
    assert len(set(here)) == 4  # and different items differ

# ---- the reader's acceptance --------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def thousand():
    ds = ChartImages(1000, seed=2024)  # fresh: a seed the notebook does not use
    return ds, ds.images()

def test_reads_clean_charts_exactly(thousand):
    ds, x = thousand
    reads = read_chart(x, ds)
    assert [r.text for r in reads] == [ds.text(i) for i in range(len(ds))]
    assert chart_scores(reads) | {'chance': 0, 'labels_chance': 0} == {
        'legible': 1, 'well_formed': 1, 'consistent': 1, 'labels_legible': 1, 'bars_well_formed': 1,
        'labels_consistent': 1, 'chance': 0, 'labels_chance': 0}

def test_reads_noisy_charts(thousand):
    ds, x = thousand
    g = torch.Generator().manual_seed(1)
    reads = read_chart((x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1), ds)
    share = sum(r.consistent for r in reads) / len(reads)
    assert share >= 0.99, share

@pytest.mark.parametrize('preset', ['double', 'large'])
def test_reads_the_other_presets_clean_and_noisy(preset):
    ds = getattr(ChartImages, preset)(300, seed=5)
    x = ds.images()
    assert [r.text for r in read_chart(x, ds)] == [ds.text(i) for i in range(len(ds))]
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert sum(r.consistent for r in read_chart(noisy, ds)) >= 0.99 * len(ds)

def test_nothing_is_consistent_in_pure_noise():
    g = torch.Generator().manual_seed(2)
    noise = torch.cat([torch.rand(500, 1, 32, 32, generator=g),
                       (0.5 + 0.3 * torch.randn(500, 1, 32, 32, generator=g)).clamp(0, 1),
                       (0.3 * torch.randn(500, 1, 32, 32, generator=g)).clamp(0, 1)])
    s = chart_scores(read_chart(noise))
    assert s['consistent'] == 0 and s['well_formed'] == 0 and s['labels_consistent'] == 0

def test_one_changed_label_or_bar_is_caught_every_time(thousand):
    ds, _ = thousand
    rng = np.random.default_rng(3)
    imgs, want = [], []
    for i in range(len(ds)):
        v = ds.values(i); k = int(rng.integers(len(v)))
        other = list(v); other[k] = int(rng.choice([u for u in range(1, 10) if u != v[k]]))
        imgs += [render_chart(v, labels=other), render_chart(other, labels=v)]
        want += [(tuple(other), tuple(v)), (tuple(v), tuple(other))]
    reads = read_chart(torch.from_numpy(np.stack(imgs)).float()[:, None])
    assert all(r.legible and r.well_formed and not r.consistent for r in reads)
    assert [(r.labels, r.bars) for r in reads] == want

# ---- the chance level ---------------------------------------------------------------------------------------------

def brute_force(reads):
    N, hit, lhit, lpairs = len(reads), 0, 0, 0
    for i, j in itertools.permutations(range(N), 2):
        a, b = reads[i], reads[j]
        hit += a.legible and b.well_formed and a.labels == b.bars
        for k, l in enumerate(a.labels):
            if l is not None and k < len(b.bars): lpairs += 1; lhit += l == b.bars[k]
    return hit / (N * (N - 1)), lhit / lpairs

def test_chance_equals_the_count_over_all_pairs():
    "On readings of damaged charts (labels and bars missing at random), against a pair-by-pair count."
    rng = np.random.default_rng(4)
    ds = ChartImages(300, seed=6, values=(1, 3))  # few values: many agreements by chance
    x = ds.images()
    x[:, :, :24][torch.from_numpy(rng.random((300, 1, 24, 32)) < 0.01)] = 1  # specks in the bars' area
    x[:, :, 24:][torch.from_numpy(rng.random((300, 1, 8, 32)) < 0.01)] = 1   # and on the labels
    reads = read_chart(x, ds)
    assert 0.1 < sum(r.consistent for r in reads) / len(reads) < 0.95  # some charts damaged, some not
    s = chart_scores(reads)
    assert (s['chance'], s['labels_chance']) == pytest.approx(brute_force(reads), abs=1e-12)

def test_unrelated_labels_match_at_chance():
    "A 'model' that writes labels with no regard to its bars: consistency equals its chance level."
    rng = np.random.default_rng(5)
    reads = []
    for _ in range(4000):
        b = tuple(int(v) for v in rng.integers(1, 10, size=rng.integers(2, 5)))
        l = tuple(int(v) for v in rng.integers(1, 10, size=len(b)))
        reads.append(ChartRead(l, b, True, True, l == b))
    s = chart_scores(reads)
    assert s['labels_chance'] == pytest.approx(1 / 9, abs=0.005)
    assert s['labels_consistent'] == pytest.approx(s['labels_chance'], abs=0.015)

# ---- the command line ---------------------------------------------------------------------------------------------

def test_demo_on_charts_prints_the_chart_scores(tmp_path):
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    res = subprocess.run(['dnd_nano_demo', '--preset', 'test', '--data', 'charts', '--out', str(tmp_path / 'demo'),
                          '--samples', str(tmp_path / 's.png'), '--n', '8'], capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'tokenizer on 256 images of charts' in res.stdout
    assert 'consistent:' in res.stdout and '(chance' in res.stdout and 'of legible labels' in res.stdout
    assert (tmp_path / 's.png').stat().st_size > 1000
