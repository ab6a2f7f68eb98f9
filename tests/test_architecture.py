"""The package's structure, read from its own source: import arrows, seams, sizes.

Every import counts, also one inside a function (a circle dodged by a late import is still a
circle). The rooms and their order are the README's "Architecture" section.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ipyseg"

#: Rooms from the bottom up: a module may import its own room and the rooms below it only.
LAYERS = {
    "_util": 0,
    "_constants": 0,
    "io": 1,
    "geometry": 1,
    "seeds": 1,
    "objects": 1,
    "display": 2,
    "_validation": 3,
    "export": 3,
    "session": 4,
    "segmenters": 5,
    "segmentation": 6,
    "sam": 6,
    "ui": 7,
    "widget": 8,
    "dataset": 9,
    "multiscale": 10,  # shims kept for the public names ipyseg.multiscale / ipyseg.sources
    "sources": 10,
    "__init__": 11,
}
MAX_CLASS_LINES = 500
MAX_MODULE_LINES = 700
#: The SegmentWidget facade keeps its traits, their validators and the public methods' docstrings
#: (measured after issue 17: 869 lines, of which 255 are docstrings); it may not grow.
#: The Annotator facade likewise (after issue 19's review and batch methods: 507 lines, of which 140
#: are docstrings; navigation rules, the open item, claims and batch work are collaborators).
OVERSIZE = {
    "ipyseg.widget.widget.SegmentWidget": 880,
    "ipyseg.dataset.annotator.Annotator": 510,
    "ipyseg.widget.widget": 950,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _imports(name: str, path: Path):
    """``(line, imported module, imported names)`` for every ipyseg import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "ipyseg" or a.name.startswith("ipyseg."):
                    yield node.lineno, a.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name, path).split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "ipyseg" or mod.startswith("ipyseg."):
                yield node.lineno, mod, tuple(a.name for a in node.names)


def _targets(mod: str, names: tuple) -> list[str]:
    """The modules an import statement loads: submodules named in ``from x import y`` too."""
    out = [f"{mod}.{n}" for n in names if f"{mod}.{n}" in MODULES]
    if len(out) < len(names) or not names:
        out.append(mod)
    return [m for m in out if m in MODULES]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {t for _, mod, names in _imports(name, path) for t in _targets(mod, names) if t != name}
    return graph


def _room(name: str) -> str:
    parts = name.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_late_imports():
    """The checker itself: an import inside a function is an edge."""
    graph = _graph()
    assert len(graph) > 40
    assert all(m in MODULES for deps in graph.values() for m in deps)
    src = "def f():\n    from ipyseg.io import read_image\n"
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "ipyseg.io" for n in ast.walk(tree))


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_room_has_a_layer():
    assert {_room(m) for m in MODULES} <= set(LAYERS), {_room(m) for m in MODULES} - set(LAYERS)


def test_arrows_go_one_way():
    """A module imports its own room or rooms below it (see LAYERS), never one above."""
    wrong = []
    for name, deps in _graph().items():
        for dep in deps:
            if LAYERS[_room(dep)] > LAYERS[_room(name)]:
                wrong.append(f"{name} -> {dep}")
    assert wrong == []


def test_util_imports_nothing_of_ipyseg():
    graph = _graph()
    assert {m: graph[m] for m in graph if _room(m) == "_util" and graph[m]} == {}


def test_segmenters_know_nothing_of_sam_widgets_or_files():
    graph = _graph()
    bad = {
        m: sorted(d for d in graph[m] if _room(d) not in ("segmenters", "_util", "_constants", "seeds", "objects"))
        for m in graph
        if _room(m) == "segmenters"
    }
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_private_names_across_rooms():
    """What a collaborator needs from another room is a public name (a Protocol, a small method)."""
    wrong = []
    for name, path in MODULES.items():
        room = _room(name)
        for line, mod, names in _imports(name, path):
            if _room(mod) in (room, "__init__") and mod != "ipyseg":
                continue
            leafs = [
                p for p in mod.split(".")[1:] if p.startswith("_") and p not in ("_util", "_constants", "_validation")
            ]
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if leafs or private:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} from {mod} import {', '.join(names)}")
    assert wrong == []


def _class_sizes():
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                yield f"{name}.{node.name}", node.end_lineno - node.lineno + 1


def test_no_class_larger_than_about_500_lines():
    big = {c: n for c, n in _class_sizes() if n > OVERSIZE.get(c, MAX_CLASS_LINES)}
    assert big == {}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= OVERSIZE.get(name, MAX_MODULE_LINES), f"{name}: {lines} lines"


def test_a_handful_of_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_ipyseg_imports_are_at_module_level():
    """Inside a function only optional third-party packages are imported (found when needed):
    an ipyseg module imported late hides which rooms a module depends on."""
    late = []
    for name, path in _modules().items():
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ipyseg")):
                    late.append(f"{name}.{fn.name}: from {node.module}")
                elif isinstance(node, ast.Import) and any(a.name.startswith("ipyseg") for a in node.names):
                    late.append(f"{name}.{fn.name}: import {node.names[0].name}")
    assert not late, late
