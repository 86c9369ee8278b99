"Two processes on the gloo backend train together and end with identical weights."
import subprocess, sys
from pathlib import Path
import pytest, torch

WORKER = Path(__file__).with_name('ddp_worker.py')

@pytest.mark.parametrize('kind', ['tokenizer', 'dnd'])
def test_two_process_gloo_training_agrees(kind, tmp_path):
    res = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                          str(WORKER), kind, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    a, b = (torch.load(tmp_path/f'rank{r}.pt') for r in (0, 1))
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), f'{kind}: {k} differs between ranks'
    # and training did something: the weights are not those of either rank's initialisation
    torch.manual_seed(1234)
    sys.path.insert(0, str(WORKER.parent)); from ddp_worker import build
    init = build(kind)[0].state_dict()
    changed = [k for k in a if a[k].is_floating_point() and not torch.equal(a[k], init[k])]
    assert len(changed) > len(a) // 2, changed
