"The package's layout: modules import in one direction, none reaches into another's private names, each has one job."
import ast, json
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parent.parent / 'dnd_nano'
MODULES = {p.stem: p for p in sorted(PKG.glob('*.py')) if p.stem not in ('__init__', '_modidx')}

def tree(name): return ast.parse(MODULES[name].read_text())

def package_imports(t: ast.AST):
    "(module imported, names imported, node) for every import of a dnd_nano module in tree `t`."
    for node in ast.walk(t):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1: yield mod.split('.')[0], [a.name for a in node.names], node
            elif mod.startswith('dnd_nano.'): yield mod.split('.')[1], [a.name for a in node.names], node
            elif mod == 'dnd_nano': yield from ((a.name, [], node) for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('dnd_nano.'): yield a.name.split('.')[1], [], node

def graph() -> dict:
    return {m: {d for d, _, _ in package_imports(tree(m)) if d in MODULES and d != m} for m in MODULES}

def test_the_modules_are_found():
    assert {'core', 'text', 'quantize', 'checkpoint', 'train', 'tokenizer', 'model', 'sample', 'cli'} <= set(MODULES)

def test_imports_have_no_cycle():
    g, state, path = graph(), {}, []
    def visit(m):
        state[m] = 'open'; path.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 'open': pytest.fail(f"import cycle: {' -> '.join(path[path.index(d):] + [d])}")
            if d not in state: visit(d)
        state[m] = 'done'; path.pop()
    for m in sorted(g):
        if m not in state: visit(m)

def test_the_cycle_check_can_fail(monkeypatch):
    "A graph with a cycle is caught (the check above is not vacuous)."
    monkeypatch.setitem(globals(), 'graph', lambda: {'a': {'b'}, 'b': {'c'}, 'c': {'a'}})
    with pytest.raises(pytest.fail.Exception, match='import cycle: a -> b -> c -> a'): test_imports_have_no_cycle()

@pytest.mark.parametrize('name', MODULES)
def test_no_private_name_is_imported_from_another_module(name):
    bad = [(d, n) for d, names, _ in package_imports(tree(name)) for n in names if n.startswith('_')]
    assert not bad, f"{name} imports private names {bad}"

@pytest.mark.parametrize('name', MODULES)
def test_no_package_import_inside_a_function(name):
    inner = [(f.name, d) for f in ast.walk(tree(name)) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for d, _, _ in package_imports(f)]
    assert not inner, f"{name} imports package modules inside functions: {inner}"

def external_aliases(t) -> set:
    "Names bound by imports of modules outside the package (torch, np, F, ...): their private names are theirs."
    out = set()
    for node in ast.walk(t):
        if isinstance(node, ast.Import): out |= {(a.asname or a.name).split('.')[0] for a in node.names if not a.name.startswith('dnd_nano')}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or '').startswith('dnd_nano'):
            out |= {a.asname or a.name for a in node.names}
    return out

TORCH_TENSOR_PRIVATES = {'_version'}  # a tensor's count of in-place changes: torch gives it no public name

def private_reaches(source: str) -> list:
    "Every `x._name` in `source` where x is not self or cls, nor (a submodule of) another library."
    t = ast.parse(source)
    ext = external_aliases(t)
    def fine(v):
        if isinstance(v, ast.Name): return v.id in {'self', 'cls'} | ext
        if isinstance(v, ast.Call) and getattr(v.func, 'id', None) == 'super': return True  # its own class
        return isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id in ext  # torch._dynamo
    return [f"{ast.unparse(n)} (line {n.lineno})" for n in ast.walk(t) if isinstance(n, ast.Attribute)
            and n.attr.startswith('_') and not n.attr.startswith('__') and not fine(n.value)
            and n.attr not in TORCH_TENSOR_PRIVATES]

def test_the_private_check_can_fail():
    src = ("import torch\ndef f(model, t):\n    torch._foreach_add_([], 1); self._x = 1; t._version\n"
           "    return model._trunk(1), self.model._cache, model._version_of, super()._init()")
    assert sorted(private_reaches(src)) == ['model._trunk (line 4)', 'model._version_of (line 4)',
                                            'self.model._cache (line 4)']

@pytest.mark.parametrize('name', MODULES)
def test_no_private_attribute_of_another_object(name):
    "`x._name` only on self or cls (and on other libraries' modules): a module never reaches into another's privates."
    bad = private_reaches(MODULES[name].read_text())
    assert not bad, f"{name} reaches into private attributes: {bad}"

@pytest.mark.parametrize('name', MODULES)
def test_each_module_says_its_job_and_is_not_too_long(name):
    text = MODULES[name].read_text()
    assert ast.get_docstring(ast.parse(text)), f"{name} has no docstring"
    # 520: lines of at most 100 characters make every module longer than the 420 it was held to
    # before, and the comparison keeps every setting its cached results depend on
    assert len(text.splitlines()) <= 520, f"{name} has {len(text.splitlines())} lines: split it"

# ---- the course: modules import only from earlier notebooks ----------------------------------------------------------

NBS = PKG.parent / 'nbs'

def notebook_of() -> dict:
    "Each module and the notebook that exports it (`#| default_exp`), by file name: '09_model' for model."
    out = {}
    for nb in sorted(NBS.glob('[0-9]*.ipynb')):
        for cell in json.loads(nb.read_text())['cells']:
            for line in ''.join(cell['source']).splitlines():
                if line.startswith('#| default_exp '): out[line.split()[-1]] = nb.stem
    return out

def forward_imports(g: dict, order: dict) -> list:
    "(module, imported module) pairs where the import comes from a later notebook."
    return sorted((m, d) for m, deps in g.items() for d in deps if order[d] > order[m])

def test_every_module_has_its_notebook():
    assert set(notebook_of()) == set(MODULES)

def test_imports_follow_the_course():
    "A module imports only modules whose notebook comes before its own: the course reads in order."
    bad = forward_imports(graph(), notebook_of())
    assert not bad, f"modules importing from later notebooks (module, import): {bad}"

def test_the_course_check_can_fail():
    order = {'core': '00_core', 'model': '09_model', 'sample': '10_sample'}
    assert forward_imports({'model': {'sample', 'core'}, 'sample': {'model'}, 'core': set()}, order) == \
        [('model', 'sample')]

# ---- lines of at most 100 characters ---------------------------------------------------------------------------------

MAX_LINE = 100

def long_lines(text: str) -> list:
    "Line numbers (1-based) over MAX_LINE characters, except in nbdev's generated `__all__` list."
    out, in_all = [], False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith('__all__ = ['): in_all = True
        if len(line) > MAX_LINE and not in_all: out.append(i)
        if in_all and line.rstrip().endswith(']'): in_all = False
    return out

def notebook_long_lines_of(nb: dict) -> list:
    "(cell index, line) of each code-cell line over MAX_LINE characters in notebook `nb`."
    return [(i, n) for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code'
            for n in long_lines(''.join(c['source']))]

def notebook_long_lines(path) -> list: return notebook_long_lines_of(json.loads(Path(path).read_text()))

NOTEBOOKS = {p.stem: p for p in sorted(NBS.glob('*.ipynb')) if not p.name.startswith(('_', '.'))}

def line_report() -> dict:
    "Each module's and notebook's long lines."
    return {**{m: long_lines(p.read_text()) for m, p in MODULES.items()},
            **{n: notebook_long_lines(p) for n, p in NOTEBOOKS.items()}}

def line_problems(report: dict) -> list:
    "The files that hold long lines, with the first of them."
    return [f"{name}: lines over {MAX_LINE} characters at {lines[:10]}"
            for name, lines in report.items() if lines]

def test_lines_of_at_most_100_characters():
    problems = line_problems(line_report())
    assert not problems, '\n'.join(problems)

def test_the_line_check_can_fail():
    long = 'x = 1\n' + 'y = "' + 'a' * 100 + '"\n'
    assert long_lines(long) == [2]
    assert long_lines("__all__ = ['" + 'a' * 120 + "',\n           'b']\n") == []  # nbdev's own list
    assert line_problems({'model': [2], 'gpt': []}) == ['model: lines over 100 characters at [2]']
    cell = {'cells': [{'cell_type': 'markdown', 'source': ['m' * 120]},
                      {'cell_type': 'code', 'source': ['ok = 1\n', 'z = ' + '1 + ' * 30 + '1']}]}
    assert notebook_long_lines_of(cell) == [(1, 2)]  # code cells only

# ---- configs check themselves in a few declared rules -----------------------------------------------------------------

MAX_POST_INIT = 15

def post_init_lengths(source: str) -> list:
    "Lines of each `__post_init__` in `source`, the def line included."
    return [n.end_lineno - n.lineno + 1 for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.FunctionDef) and n.name == '__post_init__']

def test_post_inits_are_short():
    bad = {m: n for m, p in MODULES.items() for n in post_init_lengths(p.read_text())
           if n > MAX_POST_INIT}
    assert not bad, f"__post_init__ longer than {MAX_POST_INIT} lines (module: lines): {bad}"

def test_the_post_init_check_can_fail():
    src = "class A:\n    def __post_init__(self):\n" + "        x = 1\n" * 15
    assert post_init_lengths(src) == [16]

# ---- a function spends at most 5 lines on checking its arguments --------------------------------

MAX_ARG_CHECKS = 5

def arg_check_lines(source: str) -> dict:
    """Function name -> lines of its argument checks: `if` blocks that only raise, on a test of its
    parameters (not of its own variables). A function named check_* is a declared check: it is
    what others call instead, so it is not counted; nor is `__post_init__` (above)."""
    out = {}
    for f in ast.walk(ast.parse(source)):
        if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
        if f.name == '__post_init__' or f.name.lstrip('_').startswith('check'): continue
        a = f.args
        params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x}
        local = {n.id for n in ast.walk(f)
                 if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params
        n = 0
        for s in ast.walk(f):
            if (isinstance(s, ast.If) and not s.orelse and len(s.body) == 1
                    and isinstance(s.body[0], ast.Raise)):
                names = {x.id for x in ast.walk(s.test) if isinstance(x, ast.Name)}
                if names & (params - {'self', 'cls'}) and not names & local:
                    n += s.end_lineno - s.lineno + 1
        if n: out[f.name] = n
    return out

def test_functions_spend_few_lines_on_argument_checks():
    bad = {f"{m}.{f}": n for m, p in MODULES.items()
           for f, n in arg_check_lines(p.read_text()).items() if n > MAX_ARG_CHECKS}
    assert not bad, f"more than {MAX_ARG_CHECKS} lines of argument checks: {bad}; declare a check"

def test_the_argument_check_rule_can_fail():
    src = ("def f(x, y):\n    if x < 0: raise ValueError('x')\n    z = y\n"
           "    if z < 0: raise ValueError('z')\n    if y is None:\n        raise TypeError(\n"
           "            'y')\n    return x\n"
           "def check_x(x):\n    if x: raise ValueError\n")
    assert arg_check_lines(src) == {'f': 1 + 3}  # z is its own variable; check_x is a check

# ---- a docstring's first line is whole markup ---------------------------------------------------

def open_spans(source: str) -> list:
    "Names whose docstring's first line leaves a `code span` open (the API tables show that line alone)."
    out = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            doc = ast.get_docstring(n, clean=False)
            if doc and doc.split('\n')[0].count('`') % 2: out.append(getattr(n, 'name', '<module>'))
    return out

@pytest.mark.parametrize('name', MODULES)
def test_docstring_first_lines_close_their_code_spans(name):
    bad = open_spans(MODULES[name].read_text())
    assert not bad, f"{name}: the first docstring line of {bad} opens a `code span` it does not close"

def test_the_span_check_can_fail():
    src = 'def f():\n    """Call `f(a,\n    b)` once."""\ndef g():\n    "Call `g()`."\n'
    assert open_spans(src) == ['f']

# ---- a long cell does not run again when the docs are built -------------------------------------

def slow_cells_that_import(nb: dict) -> list:
    """Indices of `slow` or `cuda` cells that import: building the docs runs every cell that imports
    (to show the API), so such a cell would train again, for minutes, on every build."""
    out = []
    for i, c in enumerate(nb['cells']):
        src = ''.join(c['source'])
        flags = {l[2:].strip() for l in src.splitlines() if l.startswith('#|')}
        if c['cell_type'] != 'code' or not flags & {'slow', 'cuda'}: continue
        try: t = ast.parse('\n'.join(l for l in src.splitlines() if not l.startswith(('%', '!'))))
        except SyntaxError: continue
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(t)): out.append(i)
    return out

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_slow_cells_do_not_import(name):
    bad = slow_cells_that_import(json.loads(NOTEBOOKS[name].read_text()))
    assert not bad, f"{name}: slow cells {bad} import; move their imports to the notebook's import cell"

def test_the_slow_import_check_can_fail():
    nb = {'cells': [{'cell_type': 'code', 'source': ['#| slow\n', 'import io\n', 'x = 1']},
                    {'cell_type': 'code', 'source': ['import io']},
                    {'cell_type': 'code', 'source': ['#| slow\n', 'x = 2']}]}
    assert slow_cells_that_import(nb) == [0]
