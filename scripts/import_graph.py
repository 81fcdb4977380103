"""The import graph of ``src/healthgap``: cycles and imports that go up the layers.

    python scripts/import_graph.py            # cycles and layer violations; exit 1 if any

Cycles are looked for between modules and between the top-level parts of the
package (``healthgap.models`` and ``healthgap.fairness`` importing each other is a
cycle even when no single module of one imports a module that imports it back).
Every ``import healthgap.x`` / ``from healthgap.x import y`` in a module counts,
including imports inside functions (a deferred import is still a dependency).
A module is named by its dotted path; a package's ``__init__`` by the package.
The layers (lowest first) are listed in :data:`LAYERS`: a module may import
its own layer and the layers below it, never a layer above.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "healthgap.errors",
            "healthgap.vocabulary",
            "healthgap.contract",
            "healthgap.palette",
            "healthgap.text",
            "healthgap.safeio",
            "healthgap._filecache",
            "healthgap._svgwire",
        ),
    ),
    ("config", ("healthgap.config", "healthgap.profiles")),
    (
        "data",
        (
            "healthgap.data",
            "healthgap._validation",
            "healthgap._lookup",
            "healthgap.sql",
            "healthgap.synth",
            "healthgap.examples",
            "healthgap.engine",
        ),
    ),
    ("stats", ("healthgap.stats",)),
    ("disclosure", ("healthgap.disclosure",)),
    ("analyses", ("healthgap.descriptive", "healthgap.models", "healthgap.fairness", "healthgap.explain")),
    ("presentation", ("healthgap.charts", "healthgap.tables", "healthgap.downloads", "healthgap.banners")),
    ("pages", ("healthgap.pages", "healthgap.book")),
    ("render", ("healthgap.render",)),
    ("cli", ("healthgap.cli", "healthgap.scaffold", "healthgap.__main__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                best = i if best is None else best
    return best


def imports(path: Path, modules: set[str]) -> set[str]:
    """healthgap modules imported by the file (resolved to a known module or package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base]) if base else ".".join(pkg)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for n in names:
            if not n.startswith("healthgap"):
                continue
            while n and n not in modules:
                n = n.rsplit(".", 1)[0] if "." in n else ""
            if n and n != me:
                out.add(n)
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    mods = set(files)
    g = {m: imports(p, mods) for m, p in files.items()}
    # a module's own package __init__ importing it is packaging, not a dependency of the package on itself
    return {
        m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")} | set()
        for m, deps in g.items()
    }


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
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

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def violations(g: dict[str, set[str]]) -> list[str]:
    out = []
    for m, deps in sorted(g.items()):
        lm = layer_of(m)
        for d in sorted(deps):
            ld = layer_of(d)
            if lm is None or ld is None:
                if m != "healthgap" and d != "healthgap":
                    out.append(f"{m} -> {d}: module without a layer (add it to LAYERS)")
                continue
            if ld > lm:
                out.append(f"{m} ({LAYERS[lm][0]}) imports {d} ({LAYERS[ld][0]}), a higher layer")
    return out


def packages(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between top-level parts (``healthgap.models``, ``healthgap.config``, ...)."""
    top = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    out: dict[str, set[str]] = {}
    for m, deps in g.items():
        out.setdefault(top(m), set()).update(top(d) for d in deps if top(d) != top(m))
    return out


def main() -> int:
    g = graph()
    cyc = cycles(g) + [c for c in cycles(packages(g)) if c not in cycles(g)]
    vio = violations(g)
    for c in cyc:
        print("cycle: " + " <-> ".join(c))
    for v in vio:
        print("layer: " + v)
    print(
        f"{len(g)} modules, {sum(len(d) for d in g.values())} imports: {len(cyc)} cycles, {len(vio)} layer violations"
    )
    return 1 if cyc or vio else 0


if __name__ == "__main__":
    sys.exit(main())
