"""The package's import graph has no circle (imports inside functions count too).

``python -m pytest tests/unit/test_package_layout.py -s`` prints its size:
modules, import arrows between them, and layers (the longest chain of imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "workflow_scripts" / "salience"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = ["salience", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at any depth of its code)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                found = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in found:
                while target and target not in modules:  # salience.x.y -> salience.x where y is a name in it
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (as a path that comes back to its start), or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [node, nxt] if nxt in trail else [node, nxt]
            if nxt not in state:
                found = visit(nxt, trail + [node])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


def layers(graph: dict[str, set[str]]) -> int:
    """The longest chain of imports, counted in modules (the graph has no circle)."""
    depth = {}

    def of(node):
        if node not in depth:
            depth[node] = 1 + max((of(n) for n in graph[node]), default=0)
        return depth[node]

    return max(of(n) for n in graph)


def test_no_circle_of_imports():
    graph = import_graph()
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} import arrows, {layers(graph)} layers")


def test_a_circle_is_found(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import x\n")
    assert find_circle(import_graph(tmp_path)) in (["salience.a", "salience.b", "salience.a"],
                                                    ["salience.b", "salience.a", "salience.b"])
