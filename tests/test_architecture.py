"""The house rules on imports, read from the source with ``ast`` (imports inside functions included).

(a) No import cycle between modules.
(b) A box imports only boxes to its left in DESIGN.md's order; a core module imports no box;
    ``api`` and ``cli`` may import any box; nothing imports ``api`` or ``cli`` but ``cli`` importing ``api``.
    The ledger never imports the simulator, and the portfolio never imports the ledger.
(c) No private name crosses modules: no ``from x import _y``, no ``x._y`` on an imported module, and
    no private module (``_params``) imported from outside its package.
(d) No ``matplotlib.use`` and no pyplot in library code: charts draw on figures the caller owns.

Each failure names the file, the line and the rule.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "creditmesh"

#: DESIGN.md's order: a box may import the boxes before it.
BOXES = (
    "simulate",
    "graph",
    "scoring",
    "decision",
    "matching",
    "ledger",
    "collections",
    "portfolio",
    "finance",
)
#: Modules every box may import; they import no box (only each other).
CORE = (
    "schema",
    "money",
    "schedules",
    "errors",
    "folders",
    "funding",
    "delinquency",
    "stages",
    "charts",
    "ids",
    "databases",
    "spark",
)
#: On top: may import any box and core module; only cli imports api.
TOP = ("api", "cli")
#: Pairs the order would allow but DESIGN.md forbids: the book of record does not depend on the
#: simulator, and the portfolio reads the ledger's exported tables, never its code.
NEVER = {
    ("ledger", "simulate"): "the ledger never imports the simulator",
    ("portfolio", "ledger"): "the portfolio never imports the ledger's code",
}

#: Known violations, each fixed on the branch named beside it; keyed by (file, rule, what) so that
#: line numbers may move. Empty this as those branches are merged.
ALLOWED: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a creditmesh module)
    name: str | None  # the name taken from it (``from target import name``), or None
    path: str  # file, relative to src/
    line: int


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(module: str) -> bool:
    return module in MODULES and MODULES[module].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, text: str, where: str) -> tuple[list[Import], list[tuple[str, int, str]]]:
    """The module's imports of creditmesh modules, and its ``x._y`` uses on names bound to such modules."""
    tree = ast.parse(text, filename=where)
    found: list[Import] = []
    module_names: dict[str, str] = {}  # local name -> creditmesh module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != PACKAGE:
                    continue
                found.append(Import(module, alias.name, None, where, node.lineno))
                if alias.asname:
                    module_names[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    found.append(Import(module, submodule, None, where, node.lineno))
                    module_names[alias.asname or alias.name] = submodule
                else:
                    found.append(Import(module, target, alias.name, where, node.lineno))
    private_uses = [
        (where, node.lineno, f"{module_names[node.value.id]}.{node.attr}")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in module_names
        and _private(node.attr)
    ]
    return found, private_uses


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


IMPORTS = {
    module: _imports(module, path.read_text(), str(path.relative_to(SRC))) for module, path in MODULES.items()
}


def _box(module: str) -> str:
    """The box (or core module, or top) a module belongs to: the first name under creditmesh."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _allowed(found: list[tuple[str, str, str, str]]) -> list[str]:
    return [
        f"{path}:{line}: rule ({rule}) {message}"
        for path, line, rule, message in found
        if (path, rule, message.split(" ")[0]) not in ALLOWED
    ]


def test_every_module_has_a_place_in_the_design_order():
    unplaced = sorted(
        {
            f"{MODULES[m].relative_to(SRC)}: '{_box(m)}' is neither a box, a core module nor api/cli (add it to "
            "this test's BOXES, CORE or TOP, and to DESIGN.md)"
            for m in MODULES
            if _box(m) and _box(m) not in (*BOXES, *CORE, *TOP)
        }
    )
    assert not unplaced, "\n".join(unplaced)


def _layer_violations(imports_by_module: dict) -> list[tuple[str, int, str, str]]:
    found = []
    for module, (imports, _) in imports_by_module.items():
        here = _box(module)
        for imp in imports:
            there = _box(imp.target)
            if not there or there == here:
                continue
            if there in TOP:
                ok = here == "cli" and there == "api"
                why = f"{imp.target} is imported by {module}: nothing imports api or cli (but cli importing api)"
            elif here in TOP or here == "":
                continue
            elif here in CORE:
                ok = there in CORE
                why = f"{imp.target} is imported by the core module {module}, which imports no box"
            elif there in CORE:
                continue
            elif (here, there) in NEVER:
                ok = False
                why = f"{imp.target} is imported by {module}: {NEVER[here, there]}"
            else:
                ok = BOXES.index(there) < BOXES.index(here)
                why = f"{imp.target} is imported by {module}: box '{here}' may import only boxes to its left"
            if not ok:
                found.append((imp.path, imp.line, "b", why))
    return found


def test_a_box_imports_only_boxes_to_its_left_and_core_imports_no_box():
    failures = _allowed(_layer_violations(IMPORTS))
    assert not failures, "\n".join(failures)


def _private_violations(imports_by_module: dict) -> list[tuple[str, int, str, str]]:
    found = []
    for module, (imports, private_uses) in imports_by_module.items():
        for imp in imports:
            if imp.name is not None and _private(imp.name):
                found.append(
                    (imp.path, imp.line, "c", f"{imp.target}.{imp.name} imported from outside its module")
                )
            private_parts = [p for p in imp.target.split(".") if _private(p)]
            if private_parts:
                package = imp.target.rsplit(".", 1)[0]
                if not (module == package or module.startswith(package + ".")):
                    found.append(
                        (
                            imp.path,
                            imp.line,
                            "c",
                            f"{imp.target} is a private module of {package}, imported from outside it",
                        )
                    )
        for path, line, name in private_uses:
            found.append((path, line, "c", f"{name} used on an imported module"))
    return found


def test_no_private_name_is_used_outside_its_module():
    failures = _allowed(_private_violations(IMPORTS))
    assert not failures, "\n".join(failures)


def test_no_matplotlib_backend_or_pyplot_state_in_library_code():
    failures = []
    for path in MODULES.values():
        where = str(path.relative_to(SRC))
        for node in ast.walk(ast.parse(path.read_text(), filename=where)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "matplotlib.pyplot" or n.startswith("matplotlib.pyplot.") for n in names):
                failures.append(
                    f"{where}:{node.lineno}: rule (d) imports pyplot: draw on matplotlib.figure.Figure"
                )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "use"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "matplotlib"
            ):
                failures.append(
                    f"{where}:{node.lineno}: rule (d) matplotlib.use changes the caller's backend"
                )
    assert not failures, "\n".join(failures)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and modules importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
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
            if len(component) > 1 or node in graph[node]:
                components.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return components


def test_no_import_cycle_between_modules():
    graph = {m: sorted({i.target for i in IMPORTS[m][0] if i.target in MODULES}) for m in MODULES}
    failures = []
    for component in _cycles(graph):
        members = set(component)
        for module in component:
            for imp in IMPORTS[module][0]:
                if imp.target in members:
                    failures.append(
                        f"{imp.path}:{imp.line}: rule (a) import cycle: {module} imports {imp.target}, "
                        f"which leads back to it (cycle among {', '.join(component)})"
                    )
    assert not failures, "\n".join(sorted(set(failures)))


@pytest.mark.parametrize(
    "source, rule, what",
    [
        ("from creditmesh.portfolio.metrics import headline\n", "b", "only boxes to its left"),
        ("from creditmesh.api.models import DecisionOut\n", "b", "nothing imports api or cli"),
        (
            "from creditmesh.ids import hex_strings\nfrom creditmesh.simulate import ids\n",
            "b",
            "never imports the simulator",
        ),
        ("from creditmesh.scoring.binning import _fmt\n", "c", "_fmt imported from outside its module"),
        (
            "from creditmesh.scoring import binning\nbinning._fmt(1.0)\n",
            "c",
            "_fmt used on an imported module",
        ),
        ("from creditmesh.scoring._params import Interval\n", "c", "a private module of creditmesh.scoring"),
    ],
)
def test_the_checks_catch_what_they_are_for(source, rule, what):
    """A ledger module written badly is caught, with its file, line and rule."""
    module, where = "creditmesh.ledger.probe", "creditmesh/ledger/probe.py"
    probe = {module: _imports(module, source, where)}
    found = (_layer_violations if rule == "b" else _private_violations)(probe)
    assert [(path, rule_) for path, _, rule_, _ in found] == [(where, rule)]
    assert what in found[0][3]


def test_a_cycle_is_found_whatever_its_length():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": ["e"]}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["e"]]
