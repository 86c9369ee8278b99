"The training loop's loader: pinned memory and workers on CUDA only, and the same batches for the same seed."
import pytest
import torch
from dnd_nano.text import TextImages
from dnd_nano.train import make_loader

@pytest.mark.filterwarnings('ignore:.*pin_memory')
def test_loader_fits_the_device():
    ds = TextImages(40)
    cpu = make_loader(ds, 8, torch.device('cpu'))
    assert (cpu.num_workers, cpu.pin_memory) == (0, False)
    gpu = make_loader(ds, 8, torch.device('cuda'))  # built only: nothing is moved to a GPU here
    assert gpu.num_workers > 0 and gpu.pin_memory
    take = lambda loader: torch.cat([next(it)[0] for it in [iter(loader)] for _ in range(5)])
    a = take(make_loader(ds, 8, torch.device('cpu'), seed=1))
    b = take(make_loader(ds, 8, torch.device('cpu'), seed=1))
    assert torch.equal(a, b) and not torch.equal(a, ds.images()) and not torch.equal(a, take(make_loader(ds, 8, torch.device('cpu'), seed=2)))
