"""The package's shape, checked from its source: no import cycle (imports inside functions
included, ``if TYPE_CHECKING:`` blocks excluded), no module importing another's private name,
every module with a docstring and at most 500 lines (data tables aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("paretoopt", "dashboard")
MAX_LINES = 500
#: Modules that are data tables (rows of published constants), exempt from the line limit.
DATA_TABLES: set[str] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node outside ``if TYPE_CHECKING:`` blocks (function bodies included)."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)
    return out


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(name: str) -> tuple[set[str], list[str]]:
    """(modules of the packages that ``name`` imports at run time, private names it imports
    from other modules)."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    targets: set[str] = set()
    private: list[str] = []
    module_aliases: dict[str, str] = {}
    nodes = _runtime_nodes(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in MODULES:
                    targets.add(a.name)
                    if a.asname:
                        module_aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, node)
            for a in node.names:
                sub = f"{source}.{a.name}"
                if sub in MODULES:  # ``from pkg import module``
                    targets.add(sub)
                    module_aliases[a.asname or a.name] = sub
                elif source in MODULES:
                    targets.add(source)
                    if a.name.startswith("_") and not a.name.startswith("__") and source != name:
                        private.append(f"{name} imports {source}.{a.name}")
    for node in nodes:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            private.append(f"{name} uses {module_aliases[node.value.id]}.{node.attr}")
    targets.discard(name)
    return targets, private


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert _cycles({name: targets for name, (targets, _) in GRAPH.items()}) == []


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    """The check above can fail: a two-module cycle and a self-contained chain."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_modules_private_name():
    assert [p for _, (_, private) in sorted(GRAPH.items()) for p in private] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_docstring_and_at_most_500_lines(name):
    path = MODULES[name]
    text = path.read_text()
    assert ast.get_docstring(ast.parse(text)), f"{path} has no module docstring"
    if name not in DATA_TABLES:
        assert len(text.splitlines()) <= MAX_LINES, f"{path}: {len(text.splitlines())} lines"
