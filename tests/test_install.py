"Installing and importing: the wheel holds the library only, and an installed copy imports outside the repository."
import configparser, os, shutil, subprocess, sys, sysconfig, venv, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def settings():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini'); return cfg['DEFAULT']

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    "The wheel, built from a copy of the files git tracks (a stale build/ folder must not leak old modules into it)."
    src, out = tmp_path_factory.mktemp('src'), tmp_path_factory.mktemp('wheel')
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT/f).is_file(): (src/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, src/f)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out),
                    str(src)], check=True)
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
    # A new virtual environment with the wheel installed into it, imported from a folder outside the repository.
    # torch is 5 GB, so it is not installed twice: a .pth file lets the new environment see the packages of the
    # interpreter running the tests (which may itself be a venv, whose packages system_site_packages would not see).
    # A path listed in a .pth file is only appended to sys.path: the venv's own copy of dnd_nano comes first, and the
    # outer environment's own .pth files (such as an editable install of this repository) are not run.
    env_dir = tmp_path/'venv'
    venv.create(env_dir, with_pip=True)
    py = env_dir/'bin'/'python'
    site = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    outer = {sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']}
    (Path(site)/'outer_packages.pth').write_text('\n'.join(sorted(outer)) + '\n')
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', '--force-reinstall', str(wheel)], check=True)
    code = ('import dnd_nano, dnd_nano.text, dnd_nano.core, torch; '
            'print(dnd_nano.__file__); print(dnd_nano.__version__)')
    res = subprocess.run([str(py), '-c', code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, 'PYTHONPATH': ''})
    assert res.returncode == 0, res.stderr
    path, version = res.stdout.split()
    assert str(env_dir) in path and str(ROOT) not in path, path
    assert version == settings()['version']
