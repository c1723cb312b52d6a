"""galcat's import graph: no cycles, and every package imports only its own layer or lower ones.

The graph is read statically (AST) from every module, including imports inside functions and the
module paths of the lazy-export tables (``_LAZY``), so a deferred import cannot hide an edge.
``LAYERS`` is the order docs/architecture.md draws; packages in one layer may not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import galcat

ROOT = Path(galcat.__file__).parent

#: Lowest first. A module may import from its own package, from lower layers, and nothing else.
LAYERS = [
    {
        "galcat",
        "_lazy",
        "errors",
        "atomic",
        "config",
        "progress",
        "tables",
        "hats",
        "net",
        "paths",
        "ranges",
        "fitsplus",
        "threads",
    },
    {"schemes"},
    {"coords"},
    {"images"},
    {"catalogues"},
    {"store"},
    {"metrics", "synth"},
    {"model"},
    {"evaluate", "outputs"},
    {"explore"},
    {"experiments", "demo"},
    {"cli"},
    {"__main__"},
]


def module_files() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("galcat", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_names(module: str, path: Path, modules) -> set[str]:
    """Every dotted name ``module`` imports: ``from a import b`` gives ``a.b`` when that is a
    module, else ``a`` (a parent package's ``__init__`` runs on any import, so it is no edge)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_LAZY" for t in node.targets):
            names.update(v.value for v in node.value.values if isinstance(v, ast.Constant))
    return names


def root_exports() -> dict[str, str]:
    """The package root's lazy re-exports (``galcat.load_run``): resolved on attribute access, never
    at ``import galcat``, they are the public entry points and the one declared exception to the
    layers, kept out of GRAPH and checked by ``test_the_root_reexports_only_declared_entry_points``."""
    return dict(galcat._LAZY)


def build_graph() -> dict[str, set[str]]:
    files = module_files()
    graph = {
        module: {name for name in imported_names(module, path, files) if name in files and name != module}
        for module, path in files.items()
    }
    graph["galcat"] -= set(root_exports().values())
    return graph


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "galcat"


def layer_of(module: str) -> int:
    for level, members in enumerate(LAYERS):
        if stage(module) in members:
            return level
    raise AssertionError(f"{module}: its package is in no layer of LAYERS; add it to the test and the doc")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
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
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


GRAPH = build_graph()


def test_the_root_reexports_only_declared_entry_points():
    """``import galcat`` loads no stage; ``galcat.load_run`` (the one re-export) resolves on use."""
    import subprocess
    import sys

    assert root_exports() == {"load_run": "galcat.model.run"}
    code = "import galcat, sys; print(any(m.startswith('galcat.model') for m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    from galcat.model.run import load_run

    assert galcat.load_run is load_run and "load_run" in dir(galcat)


def test_the_graph_sees_function_level_and_lazy_imports():
    assert "galcat.model.predictor" in GRAPH["galcat.outputs.embed"]  # imported inside a function
    assert "galcat.evaluate.api" in GRAPH["galcat.evaluate"]  # named in the _LAZY table
    assert len(GRAPH) > 80


def test_cycle_finder_finds_a_planted_cycle():
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph["galcat.errors"].add("galcat.coords.resolve")  # resolve -> errors already exists
    assert any({"galcat.coords.resolve", "galcat.errors"} <= set(c) for c in find_cycles(graph))


def test_no_import_cycles():
    assert find_cycles(GRAPH) == []


def test_no_package_imports_a_higher_or_sibling_layer():
    """Only the shared base (layer 0) may import across its own members."""
    bad = [
        f"{src} -> {dst}"
        for src, targets in GRAPH.items()
        for dst in targets
        if stage(src) != stage(dst)
        and (layer_of(dst) > layer_of(src) or (layer_of(dst) == layer_of(src) and layer_of(src) > 0))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("model", {"evaluate", "outputs", "cli", "demo", "experiments"}),
        ("metrics", {"synth", "model", "evaluate", "outputs", "cli", "demo", "experiments"}),
        ("store", {"metrics", "synth", "model", "evaluate", "outputs", "cli"}),
    ],
)
def test_key_boundaries(package, forbidden):
    reached = {stage(dst) for src, targets in GRAPH.items() if stage(src) == package for dst in targets}
    assert reached.isdisjoint(forbidden), sorted(reached & forbidden)


def _doc_name(entry: str) -> str:
    name = entry.strip().removeprefix("galcat/").removesuffix("/").removesuffix(".py")
    return "galcat" if name == "__init__" else name


def test_docs_draw_the_layers_the_test_enforces():
    """docs/architecture.md's layer block, one layer per line (highest first), "names | why"."""
    doc = (ROOT.parent / "docs" / "architecture.md").read_text()
    block = doc.split("## Layers", 1)[1].split("```")[1]
    drawn = [{_doc_name(e) for e in line.split("|")[0].split(",")} for line in block.strip().splitlines()]
    assert drawn[::-1] == LAYERS
