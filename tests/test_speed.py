"""The compiled and frozen sampling steps of `11_speed` draw exactly what the plain loop draws.

Compiling takes seconds per graph on a CPU (the frozen step, tuned for the CPU, about twenty), so these checks
live here rather than in the notebook's quick cells: the notebook runs them for every variant in `slow` cells.
"""
import pytest, torch
import dnd_nano.speed as speed
from dnd_nano.model import DnDConfig, DnDTransformer, randomize_heads
from dnd_nano.sample import generate

LABELS = torch.tensor([0, 3, 4])

def random_model(variant, seed=0):
    torch.manual_seed(seed)
    model = DnDTransformer(DnDConfig.toy(variant=variant, class_dropout=0.0))
    return randomize_heads(model, seed=seed).eval()

def seeded(model, seed=1, **kw):
    return generate(model, LABELS, generator=torch.Generator().manual_seed(seed), **kw)

@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

@pytest.mark.parametrize('variant', ['dnd', 'flat'])  # flat: one graph per depth
def test_the_compiled_step_draws_the_plain_loops_codes(variant):
    model = random_model(variant)
    for kw in [dict(temperature=0), {}]:
        test = seeded(model, decoder='compile', **kw)
        assert torch.equal(test, seeded(model, **kw)), kw
    assert not torch.equal(seeded(model, seed=2, decoder='compile'), seeded(model, decoder='compile'))

def test_the_frozen_step_follows_in_place_changes(monkeypatch):
    model = random_model('dnd')
    first = seeded(model, decoder='frozen')
    assert torch.equal(first, seeded(model))
    with torch.no_grad():
        for q in model.parameters(): q.add_(torch.randn_like(q) * 0.1)  # the tensors the graphs hold
    assert not torch.equal(seeded(model), first)                         # the change changes the codes
    with monkeypatch.context() as m:
        m.setattr(speed, 'thaw_if_changed', lambda model: None)          # without the check...
        stale = seeded(model, decoder='frozen')
    assert not torch.equal(stale, seeded(model))                         # ...the old weights sample
    assert torch.equal(seeded(model, decoder='frozen'), seeded(model))   # with it: compiled again
