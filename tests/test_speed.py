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

def test_the_frozen_step_follows_in_place_changes(monkeypatch, capfd):
    model = random_model('dnd')
    first = seeded(model, decoder='frozen')
    err = capfd.readouterr().err  # the compile says so once, without the autotuner's tables
    assert err.count('compiling the frozen step') == 1 and 'AUTOTUNE' not in err, err[-2000:]
    assert torch.equal(first, seeded(model))
    with torch.no_grad():
        for q in model.parameters(): q.add_(torch.randn_like(q) * 0.1)  # the tensors the graphs hold
    assert not torch.equal(seeded(model), first)                         # the change changes the codes
    with monkeypatch.context() as m:
        m.setattr(speed, 'thaw_if_changed', lambda model: None)          # without the check...
        stale = seeded(model, decoder='frozen')
    assert not torch.equal(stale, seeded(model))                         # ...the old weights sample
    assert torch.equal(seeded(model, decoder='frozen'), seeded(model))   # with it: compiled again
    with torch.no_grad(): model.heads[0][1].weight.data.mul_(-1)         # past the count of changes
    assert torch.equal(seeded(model, decoder='frozen'), seeded(model))   # seen all the same

def test_the_weights_key_sees_every_kind_of_change():
    "A change made by training, by loading, through `.data` or by `copy_` changes the key (no compile)."
    model = random_model('dnd')
    w = model.heads[0][1].weight
    changes = {
        'p.data': lambda: w.data.mul_(-1),
        'p.data[0] = ...': lambda: w.data.__setitem__(0, 0.5),
        'copy_': lambda: w.detach().copy_(torch.randn_like(w)),
        'load_state_dict': lambda: model.load_state_dict(random_model('dnd', seed=3).state_dict()),
        'an optimiser step': lambda: opt_step(model)}
    for name, change in changes.items():
        key = speed.weights_key(model)
        assert speed.weights_key(model) == key                          # nothing changed: the same key
        with torch.no_grad(): change()
        assert speed.weights_key(model) != key, name

def opt_step(model):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.enable_grad(): model(torch.zeros(1, *model.config.grid, model.D, dtype=torch.long))[-1].backward()
    opt.step()
