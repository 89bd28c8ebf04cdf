"""No import circle: not among the Python packages (imports inside functions count) nor among the
page's JavaScript modules. A circle is two modules that are one concept, or a helper in the wrong place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lab", "webapp", "agent")
STATIC = ROOT / "static"
PAGE = ("js", "i18n")  # the page's own modules (static/vendor/ is pinned libraries)
JS_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"](\.{1,2}/[^'"]+)['"]|^\s*import\s*['"](\.{1,2}/[^'"]+)['"]""",
                       re.MULTILINE)


def python_modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def python_graph() -> dict[str, set[str]]:
    """module -> the modules of the packages it imports, wherever the import statement stands
    (in a function, under TYPE_CHECKING: every one is an edge). `from pkg import name` is an edge to
    pkg.name when that is a module, else to pkg."""
    modules = python_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                           for alias in node.names]
            for dotted in targets:
                found = dotted
                while found and found not in modules:  # `import a.b.c` of a non-module c: its module
                    found = found.rpartition(".")[0]
                if found and found != name:
                    graph[name].add(found)
    return graph


def js_graph() -> dict[str, set[str]]:
    """module -> the page's modules it imports (static `import ... from './x.js'` and re-exports),
    named by their path under static/."""
    graph: dict[str, set[str]] = {}
    static = STATIC.resolve()
    for folder in PAGE:
        for path in sorted((static / folder).rglob("*.js")):
            name = path.relative_to(static).as_posix()
            graph[name] = set()
            for found in JS_IMPORT.finditer(path.read_text(encoding="utf-8")):
                target = (path.parent / (found.group(1) or found.group(2))).resolve()
                graph[name].add(target.relative_to(static).as_posix())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per knot of modules that import each other, in import order."""
    return [_circle(graph, set(component)) for component in knots(graph)]


def knots(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan): each module of one
    reaches every other through imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # the graphs are small: recursion depth is the number of modules at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _circle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One circle through the component's first module: a breadth-first path back to it."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError("a strongly connected component always holds a circle")


def test_the_graph_sees_imports_inside_functions_and_relative_ones() -> None:
    graph = python_graph()
    assert "lab.events.bus" in graph["lab.sockets.connection"]  # a relative import at the top
    assert "lab.errors" in graph["webapp.api"]  # an absolute one
    assert "js/net/api.js" in js_graph()["js/main.js"]
    assert len(graph) > 60 and len(js_graph()) > 40
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    tree = {"a": set(), "b": {"a"}}
    assert cycles(tree) == []


def test_no_import_circle_among_the_python_modules() -> None:
    graph = python_graph()
    found = [f"{' -> '.join(circle)} (one of {len(knot)} modules in a knot: {', '.join(knot)})"
             for circle, knot in zip(cycles(graph), knots(graph), strict=True)]
    assert not found, "import circles: " + "; ".join(found)


def test_no_import_circle_among_the_page_modules() -> None:
    graph = js_graph()
    found = [f"{' -> '.join(circle)} (one of {len(knot)} modules in a knot: {', '.join(knot)})"
             for circle, knot in zip(cycles(graph), knots(graph), strict=True)]
    assert not found, "import circles: " + "; ".join(found)
