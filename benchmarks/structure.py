"""The shape of the code: lines per package, longest functions, large modules, and the import graph.

Prints, for the source tree at `--root` (the repository by default; any checkout works, so the
figures before and after a change come from the same command)::

    uv run python -m benchmarks.structure [--root DIR] [--json]

- lines per top-level package (every line of its ``.py`` files; tests counted apart);
- the five longest functions and methods;
- modules over 600 lines;
- the import graph's upward edges: a module importing a package of a higher rank, by the ranks
  of DESIGN §2 (tools < comparison < policies < {evals, ledger} < {agents, watch} < review < api <
  demo < benchmarks: the benchmarks measure the demo registry, so they sit above it); every import
  counts, at module level, inside functions or for type checking;
- its sideways edges: a module importing another package of the same rank (evals and ledger, agents
  and watch stay independent of each other);
- its cycles: strongly connected groups of modules that import each other, directly or not.

`tests/test_layering.py` asserts that the last three lists are empty.
"""

from __future__ import annotations

import argparse
import ast
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "LONG_MODULE_LINES",
    "RANKS",
    "FunctionSize",
    "ImportEdge",
    "Structure",
    "import_cycles",
    "import_edges",
    "main",
    "measure",
    "sideways_edges",
    "upward_edges",
]

RANKS: Mapping[str, int] = {
    "tools": 0,
    "comparison": 1,
    "policies": 2,
    "evals": 3,
    "ledger": 3,
    "watch": 4,
    "agents": 4,
    "review": 5,
    "api": 6,
    "scenarios": 7,
    "demo": 8,
    "benchmarks": 8,
}
"""Each package's layer: a module may import packages of its own rank or a lower one only."""

LONG_MODULE_LINES = 600
_SKIPPED_DIRS = frozenset({".venv", ".git", "node_modules", "__pycache__", ".mypy_cache"})


@dataclass(frozen=True)
class FunctionSize:
    """A function or method and its length in lines (decorators and docstring included)."""

    name: str
    module: str
    lines: int


@dataclass(frozen=True)
class ImportEdge:
    """`source` imports `target` (both dotted module names) at `line`."""

    source: str
    target: str
    line: int


@dataclass
class Structure:
    """Everything `measure` reports about one source tree."""

    lines_per_package: dict[str, int] = field(default_factory=dict)
    longest_functions: list[FunctionSize] = field(default_factory=list)
    long_modules: dict[str, int] = field(default_factory=dict)
    upward: list[ImportEdge] = field(default_factory=list)
    sideways: list[ImportEdge] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)


def _python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if not _SKIPPED_DIRS.intersection(path.relative_to(root).parts):
            yield path


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _source_modules(root: Path) -> dict[str, Path]:
    """Every module of the ranked packages, by dotted name."""
    return {
        _module_name(root, path): path
        for path in _python_files(root)
        if path.relative_to(root).parts[0] in RANKS
    }


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest known module `name` names (``a.b.c`` may be module ``a.b``'s attribute c)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_edges(root: Path) -> list[ImportEdge]:
    """Every import between modules of the ranked packages under `root`."""
    modules = _source_modules(root)
    edges: list[ImportEdge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for name in names:
                target = _resolve(name, modules)
                if target is not None and target != module:
                    edges.append(ImportEdge(module, target, node.lineno))
    return sorted(set(edges), key=lambda e: (e.source, e.target, e.line))


def upward_edges(edges: Iterable[ImportEdge]) -> list[ImportEdge]:
    """Imports of a package of a higher rank than the importer's."""
    upward = []
    for edge in edges:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if RANKS[target] > RANKS[source]:
            upward.append(edge)
    return upward


def sideways_edges(edges: Iterable[ImportEdge]) -> list[ImportEdge]:
    """Imports of another package of the importer's own rank (siblings stay independent)."""
    sideways = []
    for edge in edges:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if source != target and RANKS[target] == RANKS[source]:
            sideways.append(edge)
    return sideways


def import_cycles(edges: Iterable[ImportEdge]) -> list[list[str]]:
    """Groups of two or more modules that import each other (Tarjan's strongly connected parts)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        # Iterative, so a long import chain cannot exhaust the recursion limit.
        work: list[tuple[str, Iterator[str]]] = [(node, iter(sorted(graph[node])))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == current:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _functions(tree: ast.AST, module: str) -> Iterator[FunctionSize]:
    def walk(node: ast.AST, prefix: str) -> Iterator[FunctionSize]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                yield FunctionSize(f"{prefix}{child.name}", module, end - start + 1)
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def measure(root: Path) -> Structure:
    """Measure the source tree at `root` (a checkout of the repository)."""
    result = Structure()
    functions: list[FunctionSize] = []
    for path in _python_files(root):
        relative = path.relative_to(root)
        top = relative.parts[0] if len(relative.parts) > 1 else "(top level)"
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        result.lines_per_package[top] = result.lines_per_package.get(top, 0) + lines
        if top not in RANKS:
            continue
        if lines > LONG_MODULE_LINES:
            result.long_modules[str(relative)] = lines
        functions.extend(_functions(ast.parse(text), _module_name(root, path)))
    result.lines_per_package = dict(
        sorted(result.lines_per_package.items(), key=lambda item: -item[1])
    )
    result.long_modules = dict(sorted(result.long_modules.items(), key=lambda item: -item[1]))
    result.longest_functions = sorted(functions, key=lambda f: (-f.lines, f.module, f.name))[:5]
    edges = import_edges(root)
    result.upward = upward_edges(edges)
    result.sideways = sideways_edges(edges)
    result.cycles = import_cycles(edges)
    return result


def _report(structure: Structure) -> str:
    out = ["| package | lines |", "|---|---:|"]
    out += [f"| `{name}` | {lines} |" for name, lines in structure.lines_per_package.items()]
    out += ["", "| longest functions | lines |", "|---|---:|"]
    out += [f"| `{f.module}.{f.name}` | {f.lines} |" for f in structure.longest_functions]
    out += ["", f"| modules over {LONG_MODULE_LINES} lines | lines |", "|---|---:|"]
    out += [f"| `{name}` | {lines} |" for name, lines in structure.long_modules.items()]
    out += ["", f"upward imports: {len(structure.upward)}"]
    out += [f"- `{e.source}` → `{e.target}` (line {e.line})" for e in structure.upward]
    out += [f"sideways imports: {len(structure.sideways)}"]
    out += [f"- `{e.source}` → `{e.target}` (line {e.line})" for e in structure.sideways]
    out += [f"import cycles: {len(structure.cycles)}"]
    out += [f"- {' ↔ '.join(f'`{m}`' for m in group)}" for group in structure.cycles]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="the checkout to measure (default: this repository)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    structure = measure(args.root.resolve())
    if args.json:
        print(json.dumps(asdict(structure), indent=2))
    else:
        print(_report(structure))


if __name__ == "__main__":
    main()
