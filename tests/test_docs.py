"""The documentation site, checked in a real browser.

The site is built by `python .ci/build_docs.py` into `_docs/` (here, when `_docs/` is missing or older than its
sources). Headless Chromium, driven by Playwright, loads every page from a local HTTP server and the check fails on a
broken image, an error in the browser's console, a request the server could not answer, and an internal link (or
`#anchor`) that leads nowhere. It saves screenshots of the home page and of a notebook page under `_docs/screenshots/`.

Chromium is the system's (Debian: `apt-get install -y chromium`), not a browser that Playwright downloads.
"""
import ast, json, os, re, shutil, subprocess, sys, tempfile, threading, time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT/'_docs'
LIB = 'dnd_nano'
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
# --headless etc. as Playwright also sets them; the --disable-* flags stop Chromium's own calls home, which a machine
# with no network refuses (and which would show up as errors).
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync']
INSTALL_HINT = ('install Debian\'s Chromium with `apt-get install -y chromium` (as root), or point the CHROMIUM '
                'environment variable at a Chromium or Chrome binary')


# ---------------------------------------------------------------- a static server and a browser

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@contextmanager
def serve(folder):
    "Serve `folder` on 127.0.0.1 (a free port) for the duration; yields the base URL."
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), partial(_QuietHandler, directory=str(folder)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try: yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    finally: httpd.shutdown(); httpd.server_close(); t.join()


@contextmanager
def browser(executable=CHROMIUM):
    "A headless Chromium with a fresh profile, as a Playwright browser context. Fails (never skips) if it is missing."
    if not (Path(executable).is_file() and os.access(executable, os.X_OK)):
        pytest.fail(f'No Chromium at {executable}: {INSTALL_HINT}.', pytrace=False)
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.fail('Playwright for Python is missing: pip install -e ".[dev]".', pytrace=False)
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix='chromium-profile-') as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=executable, headless=True,
                                                   args=CHROMIUM_FLAGS, viewport={'width': 1280, 'height': 900})
        try: yield ctx
        finally: ctx.close()


# ---------------------------------------------------------------- the check

_PAGE_JS = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const content = document.querySelector('article') || document.body;
  return {
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    content_images: Array.from(content.querySelectorAll('img')).filter(i => i.naturalWidth > 0).length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href]),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
  };
}"""


@dataclass
class SiteReport:
    problems: list = field(default_factory=list)     # one line each: 'page: what is wrong'
    links: dict = field(default_factory=dict)        # page -> the site paths it links to
    images: dict = field(default_factory=dict)       # page -> images shown in its content
    seconds: float = 0.


def site_pages(folder):
    "Every HTML page of the site, as paths relative to its root."
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob('*.html'))


def _where(msg):
    url = (msg.location or {}).get('url')
    return f' ({url})' if url else ''


def check_site(folder, ctx, shots=None):
    """Load every page of the site in `folder` in the browser context `ctx`; return a `SiteReport`.
    `shots` maps a page to the PNG file to save a screenshot of it in (scrolled to its first figure, if any)."""
    folder, shots, t0 = Path(folder), shots or {}, time.time()
    rep, ids = SiteReport(), {}
    with serve(folder) as base:
        page = ctx.new_page()
        current = {'name': None}
        def problem(msg): rep.problems.append(f'{current["name"]}: {msg}')
        page.on('console', lambda m: m.type == 'error' and problem(f'console error: {m.text}' + _where(m)))
        page.on('pageerror', lambda e: problem(f'script error: {e}'))
        # A request the browser dropped when it moved on to the next page (net::ERR_ABORTED) is no fault of the site;
        # a missing file answers 404, caught below.
        page.on('requestfailed', lambda r: 'ERR_ABORTED' not in str(r.failure) and problem(f'request failed: {r.url} ({r.failure})'))
        page.on('response', lambda r: r.status >= 400 and problem(f'HTTP {r.status} for {r.url}'))
        for name in site_pages(folder):
            current['name'] = name
            page.goto(base + name, wait_until='load')
            info = page.evaluate(_PAGE_JS)
            for src in info['broken']: problem(f'broken image {src}')
            rep.images[name], ids[name] = info['content_images'], set(info['ids'])
            rep.links[name] = []
            for href, url in info['links']:
                if not url.startswith(base): continue            # another site: not loaded, not checked
                path, frag = urldefrag(url)
                rel = unquote(urlsplit(path).path[len(urlsplit(base).path):]) or 'index.html'
                if rel.endswith('/'): rel += 'index.html'
                rep.links[name].append((rel, unquote(frag), href))
            if name in shots:
                page.evaluate("() => { const i = document.querySelector('article img'); if (i) i.scrollIntoView(); }")
                Path(shots[name]).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots[name]))
        page.close()
    current['name'] = None
    for name, links in rep.links.items():
        for rel, frag, href in links:
            if not (folder/rel).is_file(): rep.problems.append(f'{name}: link {href!r} leads to no file ({rel})')
            elif frag and rel.endswith('.html') and frag not in ids.get(rel, ()):
                rep.problems.append(f'{name}: link {href!r} names #{frag}, which {rel} does not have')
    rep.seconds = time.time() - t0
    return rep


# ---------------------------------------------------------------- the site of this package

def notebook_pages():
    "Page of each notebook (`04_train.ipynb` -> `train.html`), in reading order, the home page first."
    nbs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    pages = {p.name: re.sub(r'^\d+_', '', p.stem) + '.html' for p in nbs}
    return dict(sorted(pages.items(), key=lambda kv: kv[0] != 'index.ipynb'))


def exported_names():
    "Module -> the names in its `__all__`, read from the package's source."
    out = {}
    for py in sorted((ROOT/LIB).glob('*.py')):
        if py.name.startswith('_'): continue
        tree = ast.parse(py.read_text(encoding='utf-8'))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == '__all__' for t in node.targets):
                out[py.stem] = ast.literal_eval(node.value)
    return out


def _sources():
    files = [ROOT/'settings.ini', ROOT/'.ci'/'build_docs.py', *(ROOT/'.ci'/'docs').glob('*'),
             *(ROOT/'nbs').glob('*.ipynb'), *(ROOT/LIB).glob('*.py')]
    return max(f.stat().st_mtime for f in files)


@pytest.fixture(scope='module')
def site():
    "The built site; built here when missing or older than a notebook, a module or the build's settings."
    index = SITE/'index.html'
    # (.buildinfo is Sphinx's: a site that Quarto's nbdev_docs wrote into _docs/ is rebuilt too.)
    if not index.exists() or not (SITE/'.buildinfo').exists() or index.stat().st_mtime < _sources():
        r = subprocess.run([sys.executable, str(ROOT/'.ci'/'build_docs.py')], cwd=ROOT, capture_output=True, text=True)
        if r.returncode: pytest.fail(f'python .ci/build_docs.py failed:\n{(r.stdout + r.stderr)[-4000:]}', pytrace=False)
        print(r.stdout.strip().splitlines()[-1])
    return SITE


def test_site_has_every_notebook_and_every_export(site):
    "A page per notebook, and an entry in the API reference for every name a module exports."
    missing = [page for page in notebook_pages().values() if not (site/page).exists()]
    assert not missing, f'no page for {missing}'
    for mod, names in exported_names().items():
        page = site/'api'/LIB/mod/'index.html'
        assert page.exists(), f'no API reference page for {LIB}.{mod}'
        html = page.read_text(encoding='utf-8')
        absent = [n for n in names if f'id="{LIB}.{mod}.{n}"' not in html]
        assert not absent, f'{page.relative_to(site)} does not document {absent}'


def test_site_in_browser(site):
    "Every page loads in Chromium with no broken image, console error or dead internal link; navigation reaches all."
    pages = notebook_pages()
    shot_page = next((p for n, p in pages.items() if n != 'index.ipynb' and _image_outputs(ROOT/'nbs'/n)),
                     list(pages.values())[1])
    shots = {'index.html': site/'screenshots'/'home.png', shot_page: site/'screenshots'/f'notebook-{Path(shot_page).stem}.png'}
    with browser() as ctx: rep = check_site(site, ctx, shots)
    print(f'checked {len(rep.links)} pages in {rep.seconds:.1f} s')
    assert len(rep.links) >= len(pages), f'only {len(rep.links)} pages were loaded'
    assert not rep.problems, f'{len(rep.problems)} problem(s) in the site:\n' + '\n'.join(rep.problems[:50])
    # Navigation: the home page links to every notebook and to the API reference; each notebook page links home.
    home = {rel for rel, _, _ in rep.links['index.html']}
    assert set(pages.values()) - {'index.html'} <= home, f'the home page does not link to {set(pages.values()) - home}'
    assert f'api/{LIB}/index.html' in home, 'the home page does not link to the API reference'
    for page in pages.values():
        assert 'index.html' in {rel for rel, _, _ in rep.links[page]}, f'{page} has no link to the home page'
    # Figures: a notebook that holds image outputs shows at least that many images on its page.
    for nb, page in pages.items():
        n = _image_outputs(ROOT/'nbs'/nb)
        assert rep.images[page] >= n, f'{page} shows {rep.images[page]} images, but {nb} holds {n} image outputs'
    for shot in shots.values(): assert shot.stat().st_size > 10_000, f'{shot} looks empty'


def _image_outputs(nb_path):
    "Image outputs of the cells nbdev shows (not `#| hide`)."
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    return sum(any(k.startswith('image/') for k in o.get('data', {}))
               for c in nb['cells'] if c['cell_type'] == 'code' and not re.search(r'^#\|\s*hide\s*$', ''.join(c['source']), re.M)
               for o in c.get('outputs', []))


# ---------------------------------------------------------------- the check itself can fail

PNG_1PX = bytes.fromhex('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489'
                        '0000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082')


def _page(body, title='t'):
    return f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,"></head><body>{body}</body></html>'


def test_checker_finds_broken_image_and_dead_links(tmp_path):
    "A tiny site with one missing image and dead links (a missing page, a missing anchor): each is reported, nothing else."
    (tmp_path/'ok.png').write_bytes(PNG_1PX)
    (tmp_path/'index.html').write_text(_page(
        '<img src="ok.png" alt="fine"><img src="missing.png" alt="gone">'
        '<a href="page.html">fine</a> <a href="page.html#here">fine anchor</a> <a href="https://example.org/">elsewhere</a>'
        '<a href="nowhere.html">dead</a> <a href="page.html#not-here">dead anchor</a>'))
    (tmp_path/'page.html').write_text(_page('<h2 id="here">here</h2><a href="index.html">home</a>'))
    with browser() as ctx: rep = check_site(tmp_path, ctx)
    text = '\n'.join(rep.problems)
    assert "index.html: broken image missing.png" in rep.problems, text
    assert any(p.startswith('index.html: HTTP 404') and p.endswith('/missing.png') for p in rep.problems), text
    assert "index.html: link 'nowhere.html' leads to no file (nowhere.html)" in rep.problems, text
    assert "index.html: link 'page.html#not-here' names #not-here, which page.html does not have" in rep.problems, text
    # Nothing is said of what works (a broken image also shows as a console error, which is fine).
    assert not [p for p in rep.problems if 'ok.png' in p or 'page.html#here' in p or 'example.org' in p
                or p.startswith('page.html')], text
    assert rep.images == {'index.html': 1, 'page.html': 0}


def test_checker_finds_script_errors(tmp_path):
    "A console.error call and an uncaught exception are both reported, on the page they happen."
    (tmp_path/'index.html').write_text(_page('<p>fine</p>'))
    (tmp_path/'bad.html').write_text(_page('<script>console.error("boom"); throw new Error("oops")</script>'))
    with browser() as ctx: rep = check_site(tmp_path, ctx)
    assert any(p.startswith('bad.html: console error: boom') for p in rep.problems), rep.problems
    assert any(p.startswith('bad.html: script error:') and 'oops' in p for p in rep.problems), rep.problems
    assert not [p for p in rep.problems if p.startswith('index.html')], rep.problems


def test_missing_chromium_fails_with_install_hint(tmp_path):
    "Without Chromium the check fails (it is never skipped) and says how to install it."
    with pytest.raises(pytest.fail.Exception, match=r'apt-get install -y chromium'):
        with browser(str(tmp_path/'no-chromium')): pass
