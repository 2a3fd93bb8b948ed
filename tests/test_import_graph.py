"""The domain packages of app/ form layers: no package imports another that imports it back,
directly or through others.

What counts: every `import app.X...` / `from app.X... import` (at any depth of the module, not
under `if TYPE_CHECKING:`) between two packages app/<a>/ and app/<b>/. What does not: imports of
another package's `models` and `schemas`, the shared schema layer (tables name each other's
rows by foreign key; API shapes are shared), and `app.auth.deps`, the request's signed-in user
that every router depends on the way it depends on `app.db.SessionDep`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
SHARED_LAYER = ("models", "schemas")
SHARED_MODULES = {"app.auth.deps"}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.Module) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                visit(other)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "app":
                found.extend((f"app.{alias.name}", node.lineno) for alias in node.names)
            else:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """{package: {package it imports: ["path:line", ...]}}"""
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP).parts
        if len(parts) < 2:
            continue  # app/main.py, app/cli.py ...: the composition root may import anything
        source = parts[0]
        for module, line in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            names = module.split(".")
            if names[0] != "app" or len(names) < 2 or names[1] not in packages:
                continue
            target = names[1]
            if target == source or module in SHARED_MODULES:
                continue
            if len(names) > 2 and names[2] in SHARED_LAYER:
                continue
            graph[source][target].append(f"{path.relative_to(APP.parent)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every strongly connected set of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_checker_sees_a_cycle() -> None:
    graph: dict[str, dict[str, list[str]]] = {
        "a": {"b": ["x"]},
        "b": {"c": ["y"]},
        "c": {"a": ["z"]},
        "d": {"a": ["w"]},
    }
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_checker_reads_the_real_imports() -> None:
    graph = package_graph()
    assert "retention" in graph["web"]  # the web pages use the retention services
    assert "posts" in graph["collectors"]


def test_no_two_domain_packages_import_each_other() -> None:
    graph = package_graph()
    problems = []
    for group in cycles(graph):
        edges = [
            f"  {a} -> {b}: {', '.join(graph[a][b][:3])}"
            for a in group
            for b in group
            if b in graph.get(a, {})
        ]
        problems.append(" / ".join(group) + "\n" + "\n".join(edges))
    assert not problems, "domain packages import each other in a cycle:\n" + "\n".join(problems)
