# -*- test-case-name: tests.test_architecture -*-
"""
The import rules of txinetd's package, read from the sources (see
docs/code-map.md):

  - the layers, from the bottom: C{core}, C{net}, C{spawn}, C{builtins},
    C{serve}, C{daemon}; a module imports from its own layer and the ones
    below, never from one above;
  - C{core} imports the standard library and C{txinetd.core} alone (no
    Twisted, no reactor, no other layer);
  - the top-level modules are of two kinds: C{txinetd} and
    C{txinetd.interfaces} (the plugin interface) import no other txinetd
    module and any layer above C{core} may import them; the entry points
    (C{tap}, C{command}, C{itox}, C{startup}, C{monitoring}) and
    C{txinetd.internal} (the plugin authors' module) may import anything,
    and only entry points import them;
  - no module imports another txinetd module inside a function (only
    optional third-party packages, and the reactor, are imported late);
  - no two modules import each other, directly or through others.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from twisted.trial.unittest import SynchronousTestCase

from tests.paths import ROOT

SOURCES = os.path.join(ROOT, "src")

#: The layers, bottom first.
LAYERS = ("core", "net", "spawn", "builtins", "serve", "daemon")

#: Top-level modules that any layer above core may import.
BASES = frozenset({"txinetd", "txinetd.interfaces"})

#: Top-level modules that nothing but another entry point imports.
ENTRY_POINTS = frozenset(
    {
        "txinetd.tap",
        "txinetd.command",
        "txinetd.itox",
        "txinetd.startup",
        "txinetd.monitoring",
        "txinetd.internal",
    }
)


@dataclass(frozen=True)
class Import:
    """
    One import statement of a module.

    @ivar importer: the importing module's dotted name.
    @ivar imported: the dotted name of what it imports (a module, or a
        module's attribute for C{from m import a}: both are recorded).
    @ivar line: where.
    @ivar late: whether it is inside a function.
    """

    importer: str
    imported: str
    line: int
    late: bool


def moduleName(path: str) -> str:
    relative = os.path.relpath(path, SOURCES)[: -len(".py")]
    parts = relative.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def sourceFiles() -> Iterator[str]:
    for directory, _, names in os.walk(os.path.join(SOURCES, "txinetd")):
        for name in sorted(names):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def _resolve(importer: str, isPackage: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not isPackage:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def importsOf(path: str) -> list[Import]:
    """
    Every import of the module at C{path}, with whether it is made inside a
    function.
    """
    importer = moduleName(path)
    isPackage = path.endswith("__init__.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found: list[Import] = []

    def visit(node: ast.AST, late: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = late or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(importer, alias.name, child.lineno, inner))
            elif isinstance(child, ast.ImportFrom):
                module = _resolve(importer, isPackage, child)
                found.append(Import(importer, module, child.lineno, inner))
                for alias in child.names:
                    found.append(Import(importer, f"{module}.{alias.name}", child.lineno, inner))
            if not _typeCheckingOnly(child):
                visit(child, inner)

    visit(tree, False)
    return found


def _typeCheckingOnly(node: ast.AST) -> bool:
    """
    Whether C{node} is an C{if TYPE_CHECKING:} block (imports for the type
    checker alone).
    """
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    )


def allModules() -> set[str]:
    return {moduleName(path) for path in sourceFiles()}


def txinetdModule(name: str, modules: set[str]) -> str | None:
    """
    The txinetd module that an imported name lives in (the longest module
    prefix of C{name}), or L{None} for a name outside txinetd.
    """
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def layerOf(module: str) -> str | None:
    """
    The layer of a module (C{core} ... C{daemon}), or L{None} for a
    top-level one.
    """
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    return None


def edges() -> Iterator[tuple[Import, str]]:
    """
    Every import of a txinetd module by a txinetd module, with the module
    imported.
    """
    modules = allModules()
    for path in sourceFiles():
        seen: set[tuple[str, int]] = set()
        for each in importsOf(path):
            target = txinetdModule(each.imported, modules)
            if target is None or target == each.importer or (target, each.line) in seen:
                continue
            seen.add((target, each.line))
            yield each, target


def violations() -> list[str]:
    """
    Every import that breaks a rule, described (C{module:line: what}).
    """
    found: list[str] = []
    for path in sourceFiles():
        importer = moduleName(path)
        if layerOf(importer) == "core":
            for each in importsOf(path):
                top = each.imported.split(".")[0]
                if top != "txinetd" and top not in sys.stdlib_module_names and top != "__future__":
                    found.append(f"{importer}:{each.line}: core imports {each.imported}")
    for each, target in edges():
        where = f"{each.importer}:{each.line}"
        if each.late:
            found.append(f"{where}: imports {target} inside a function")
        source, destination = layerOf(each.importer), layerOf(target)
        if target in ENTRY_POINTS and each.importer not in ENTRY_POINTS:
            found.append(f"{where}: imports the entry point {target}")
        elif source == "core" and destination != "core":
            found.append(f"{where}: core imports {target}")
        elif each.importer in BASES and target not in BASES:
            found.append(f"{where}: the base module {each.importer} imports {target}")
        elif (
            source is not None
            and destination is not None
            and LAYERS.index(destination) > LAYERS.index(source)
        ):
            found.append(f"{where}: {source} imports {target} of the layer {destination}")
    return sorted(found) + [f"cycle: {' -> '.join(cycle)}" for cycle in cycles()]


def cycles() -> list[list[str]]:
    """
    The import cycles among txinetd's modules (imports at module level and
    inside functions alike), each as the path that closes it.
    """
    graph: dict[str, set[str]] = {}
    for each, target in edges():
        graph.setdefault(each.importer, set()).add(target)
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    return found


def withoutLine(violation: str) -> str:
    """
    A violation without its line number, as L{KNOWN} names it.
    """
    module, _, rest = violation.partition(":")
    line, _, what = rest.partition(":")
    return f"{module}:{what}" if line.isdigit() else violation


#: What still breaks the rules (without line numbers), to be gone before the
#: renovation ends.
KNOWN: frozenset[str] = frozenset()


class ArchitectureTests(SynchronousTestCase):
    """
    The package keeps its import rules.
    """

    def test_rules(self) -> None:
        """
        No import breaks a rule (but those in L{KNOWN}, each of which is
        still there).
        """
        found = violations()
        unknown = [each for each in found if withoutLine(each) not in KNOWN]
        self.assertEqual(unknown, [], "imports that break the rules")
        mended = KNOWN - {withoutLine(each) for each in found}
        self.assertEqual(sorted(mended), [], "mended: take them off KNOWN")
