"The package's layout: modules import in one direction, none reaches into another's private names, each has one job."
import ast
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
        return isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id in ext  # torch._dynamo
    return [f"{ast.unparse(n)} (line {n.lineno})" for n in ast.walk(t) if isinstance(n, ast.Attribute)
            and n.attr.startswith('_') and not n.attr.startswith('__') and not fine(n.value)
            and n.attr not in TORCH_TENSOR_PRIVATES]

def test_the_private_check_can_fail():
    src = ("import torch\ndef f(model, t):\n    torch._foreach_add_([], 1); self._x = 1; t._version\n"
           "    return model._trunk(1), self.model._cache, model._version_of")
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
    assert len(text.splitlines()) <= 420, f"{name} has {len(text.splitlines())} lines: split it"
