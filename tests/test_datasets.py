"Image data sets: a clear error for missing data and failed downloads, Fashion-MNIST from Debian's idx files, names."
import urllib.error
from pathlib import Path
import numpy as np
import pytest
import torch
import torchvision
from dnd_nano.core import DataNotFoundError
from dnd_nano.datasets import load_cifar10, load_mnist, load_fashion_mnist
from idx_files import write_idx


LOADERS = [('CIFAR-10', load_cifar10), ('MNIST', load_mnist),
           ('Fashion-MNIST', lambda root, **kw: load_fashion_mnist(root, system_dir=Path(root) / 'no_debian', **kw))]

@pytest.mark.parametrize('name,load', LOADERS)
def test_missing_data_says_what_to_do(tmp_path, name, load):
    with pytest.raises(DataNotFoundError) as e: load(tmp_path, download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert name in msg and str(tmp_path) in msg and 'download=True' in msg, msg

@pytest.mark.parametrize('cls,err', [('CIFAR10', urllib.error.URLError('[Errno -2] Name or service not known')),
                                     ('MNIST', RuntimeError('Error downloading train-images-idx3-ubyte.gz')),
                                     ('FashionMNIST', RuntimeError('Error downloading train-images-idx3-ubyte.gz'))])
def test_failed_download_is_one_clear_error(tmp_path, monkeypatch, cls, err):
    "Offline, torchvision's download raises URLError or RuntimeError; the user sees one DataNotFoundError instead."
    def offline(self): raise err
    monkeypatch.setattr(getattr(torchvision.datasets, cls), 'download', offline)
    load = {'CIFAR10': load_cifar10, 'MNIST': load_mnist,
            'FashionMNIST': lambda r, download: load_fashion_mnist(r, download=download, system_dir=tmp_path / 'x')}[cls]
    with pytest.raises(DataNotFoundError, match='downloading it failed') as e: load(tmp_path, download=True)
    assert type(err).__name__ in str(e.value) and e.value.__cause__ is err

def test_fashion_mnist_from_debian_idx_files(tmp_path):
    sysdir = tmp_path / 'debian'; sysdir.mkdir()
    imgs = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    write_idx(sysdir / 't10k-images-idx3-ubyte.gz', imgs)
    write_idx(sysdir / 't10k-labels-idx1-ubyte.gz', np.array([9, 0, 3, 3, 1, 2], np.uint8))
    ds = load_fashion_mnist(tmp_path / 'empty', train=False, system_dir=sysdir)
    x, y = ds[0]
    assert len(ds) == 6 and x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == 9 and type(y) is int
    assert torch.equal(x[0], torch.from_numpy(imgs[0]).float() / 255)
    assert ds.classes[y] == 'Ankle boot'
    with pytest.raises(DataNotFoundError): load_fashion_mnist(tmp_path / 'empty', train=True, system_dir=sysdir)
