"Installing and importing: the wheel holds the library only, and an installed copy imports outside the repository."
import configparser, os, subprocess, sys, venv, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def settings():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini'); return cfg['DEFAULT']

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out),
                    str(ROOT)], check=True)
    (whl,) = out.glob('dnd_nano-*.whl')
    return whl

def test_version_matches_settings():
    import dnd_nano
    assert dnd_nano.__version__ == settings()['version']

def test_wheel_holds_only_the_library(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split('/')[0] for n in names}
    assert top == {'dnd_nano', f'dnd_nano-{settings()["version"]}.dist-info'}, top
    mods = {Path(n).stem for n in names if n.startswith('dnd_nano/') and n.endswith('.py')}
    exported = {p.stem for p in (ROOT/'dnd_nano').glob('*.py')}
    assert mods == exported, (mods, exported)

def test_wheel_metadata(wheel):
    meta = zipfile.ZipFile(wheel).read(f'dnd_nano-{settings()["version"]}.dist-info/METADATA').decode()
    assert 'Apache-2.0' in meta
    for req in settings()['requirements'].split():
        name = req.split('>')[0].split('<')[0].split('=')[0]
        assert f'Requires-Dist: {name}' in meta, req

def test_installs_and_imports_in_a_fresh_venv(wheel, tmp_path):
    # A new virtual environment that sees this interpreter's packages (torch is 5 GB: not installed twice),
    # with the wheel installed into it and imported from a folder outside the repository.
    env_dir = tmp_path/'venv'
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir/'bin'/'python'
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', '--force-reinstall', str(wheel)], check=True)
    code = ('import dnd_nano, dnd_nano.data, dnd_nano.core; '
            'print(dnd_nano.__file__); print(dnd_nano.__version__)')
    res = subprocess.run([str(py), '-c', code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, 'PYTHONPATH': ''})
    assert res.returncode == 0, res.stderr
    path, version = res.stdout.split()
    assert str(env_dir) in path and str(ROOT) not in path, path
    assert version == settings()['version']
