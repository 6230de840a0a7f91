"""Static rules for proposals: what a discovery candidate may be written with.

The screen reads the source as a syntax tree (nothing is executed) and reports every construct that
reaches outside the controller API: imports beyond an allowlist, dangerous builtins, dunder
attributes, private attributes of objects the file did not create, monkeypatching of imported
objects or of the episode, and format strings that read attributes. Each finding names its rule and
line and says what to do instead, so a proposer can fix the file.

These are rules of style and scope for proposals (validation, ``autotts validate``), **not** the
security boundary: whatever a file does, it runs behind the operating-system boundary of
:mod:`autotts.sandbox`, which is what contains it.
"""

from __future__ import annotations

import ast
import importlib
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass

#: modules a candidate may import (a dotted name also allows importing its listed submodules)
ALLOWED_MODULES = frozenset(
    {
        "__future__",
        "abc",
        "bisect",
        "cmath",
        "collections",
        "collections.abc",
        "dataclasses",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "math",
        "numbers",
        "random",
        "statistics",
        "typing",
        "numpy",
        "numpy.linalg",
        "numpy.random",
        "scipy",
        "scipy.integrate",
        "scipy.interpolate",
        "scipy.linalg",
        "scipy.optimize",
        "scipy.special",
        "scipy.stats",
    }
)

def _candidate_api() -> dict[str, frozenset[str]]:
    """Module -> names a candidate may import from it: the names of ``autotts.controllers.__all__``
    (the one list of the candidate API), from ``autotts.controllers`` itself, from the module that
    defines each, and from any package between the two that re-exports the same object."""
    from .. import controllers

    allowed: dict[str, set[str]] = {"autotts.controllers": set(controllers.__all__)}
    for name in controllers.__all__:
        obj = getattr(controllers, name)
        parts = obj.__module__.split(".")
        for depth in range(2, len(parts) + 1):  # autotts.X, autotts.X.Y, ... (never autotts itself)
            module = ".".join(parts[:depth])
            if getattr(importlib.import_module(module), name, None) is obj:
                allowed.setdefault(module, set()).add(name)
    return {module: frozenset(names) for module, names in allowed.items()}


#: names a candidate may import from autotts (and nothing else of autotts)
ALLOWED_AUTOTTS_NAMES = _candidate_api()

#: scipy subpackages reachable as ``from scipy import X``
ALLOWED_SCIPY_SUBMODULES = frozenset({"integrate", "interpolate", "linalg", "optimize", "special", "stats"})

FORBIDDEN_BUILTINS = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "help",
        "input",
        "locals",
        "open",
        "quit",
        "setattr",
        "vars",
    }
)

#: attribute names that lead to the interpreter, the OS, raw memory or files, whatever the object
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "as_strided",
        "base",  # a read-only view's writable base array
        "builtins",
        "cr_frame",
        "ctypes",
        "ctypeslib",
        "f_back",
        "flags",  # re-enabling writes to the read-only arrays of an EpisodeBatch
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "fromfile",
        "gc",
        "genfromtxt",
        "gi_code",
        "gi_frame",
        "importlib",
        "inspect",
        "load",
        "loadtxt",
        "memmap",
        "mro",
        "os",
        "pickle",
        "save",
        "savetxt",
        "setflags",
        "savez",
        "savez_compressed",
        "socket",
        "stride_tricks",
        "subprocess",
        "sys",
        "tb_frame",
        "tofile",
    }
)

#: dunder methods a class may define (others, e.g. __getattr__, __del__, __init_subclass__,
#: __reduce__, run code at moments the harness does not control)
ALLOWED_DUNDER_DEFINITIONS = frozenset(
    {
        "__init__",
        "__post_init__",
        "__repr__",
        "__str__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__hash__",
        "__len__",
        "__iter__",
        "__next__",
        "__contains__",
        "__getitem__",
        "__setitem__",
        "__bool__",
        "__call__",
        "__add__",
        "__sub__",
        "__mul__",
        "__truediv__",
        "__neg__",
        "__abs__",
    }
)

#: parameter names under which run()/solve() receive objects the candidate did not create
HARNESS_PARAMETERS = frozenset({"episode", "question", "ep", "env", "batch"})

RULES = (
    ("imports", "imports come only from the allowlist"),
    ("builtins", "no dangerous builtins (getattr, eval, open, ...)"),
    ("dunders", "no dunder attributes or special hooks"),
    ("private", "no private attributes of objects it did not create"),
    ("monkeypatch", "no changes to imported objects or the episode"),
    ("format", "format strings read no attributes"),
)


@dataclass(frozen=True)
class Finding:
    """One construct the screen rejects: its rule (see :data:`RULES`), line and explanation."""

    rule: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def screen_source(source: str, filename: str = "<candidate>") -> list[Finding]:
    """Every finding in ``source``; raises :class:`SyntaxError` if it does not parse."""
    tree = ast.parse(source, filename=filename)
    return _Screen().run(tree)


#: names of modules a file could reach through an allowed module's namespace
MODULE_NAMES = frozenset(sys.stdlib_module_names) - {m.split(".")[0] for m in ALLOWED_MODULES}


def allowed_import(module: str) -> bool:
    return module in ALLOWED_MODULES or module in ALLOWED_AUTOTTS_NAMES


class _Screen(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.imported: set[str] = set()  # names bound by imports (modules and objects)
        self.foreign: list[set[str]] = [set()]  # per scope: names bound to objects the file did not create
        self.own_classes: set[str] = set()

    def run(self, tree: ast.Module) -> list[Finding]:
        self.own_classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        self.visit(tree)
        return sorted(self.findings, key=lambda f: (f.line, f.rule))

    def flag(self, rule: str, node: ast.AST, message: str) -> None:
        self.findings.append(Finding(rule, getattr(node, "lineno", 0), message))

    # ------------------------------------------------------------------ imports

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("autotts"):
                self.flag(
                    "imports", node, f"`import {alias.name}`: import names with `from autotts.controllers import ...`"
                )
            elif not allowed_import(alias.name):
                self.flag("imports", node, f"`import {alias.name}` is not allowed; {_allowlist_hint()}")
            self.imported.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag("imports", node, "relative imports are not allowed")
        elif any(a.name == "*" for a in node.names):
            self.flag("imports", node, f"`from {module} import *` is not allowed; import names explicitly")
        elif module in ALLOWED_AUTOTTS_NAMES:
            extra = [a.name for a in node.names if a.name not in ALLOWED_AUTOTTS_NAMES[module]]
            if extra:
                allowed = ", ".join(sorted(ALLOWED_AUTOTTS_NAMES[module]))
                self.flag("imports", node, f"`from {module} import {', '.join(extra)}`: only {allowed} may be imported")
        elif module == "scipy":
            extra = [a.name for a in node.names if a.name not in ALLOWED_SCIPY_SUBMODULES]
            if extra:
                self.flag(
                    "imports", node, f"`from scipy import {', '.join(extra)}` is not allowed; {_allowlist_hint()}"
                )
        elif not allowed_import(module):
            self.flag("imports", node, f"`from {module} import ...` is not allowed; {_allowlist_hint()}")
        else:  # an allowed module may re-export a module that is not (``from typing import sys``)
            smuggled = [a.name for a in node.names if a.name.split(".")[0] in MODULE_NAMES]
            if smuggled:
                names = ", ".join(smuggled)
                self.flag("imports", node, f"`from {module} import {names}` imports a module; {_allowlist_hint()}")
        for alias in node.names:
            self.imported.add(alias.asname or alias.name)

    # ------------------------------------------------------------------ names and attributes

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in FORBIDDEN_BUILTINS:
            self.flag("builtins", node, f"`{name}` is not allowed (it reaches outside the controller API)")
        elif _is_dunder(name) and name != "__name__":
            self.flag("dunders", node, f"`{name}` is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if _is_dunder(attr):
            if not (attr == "__init__" and _is_super_call(node.value)):
                self.flag("dunders", node, f"dunder attribute `.{attr}` is not allowed (only `super().__init__`)")
        elif attr.startswith("_") and not self._own_object(node.value):
            self.flag(
                "private",
                node,
                f"`{_describe(node)}` reads a private attribute of an object this file did not create; "
                "use the episode's public methods (spawn, advance, read_full, prune, answer, ...)",
            )
        if attr in FORBIDDEN_ATTRIBUTES:
            self.flag("builtins", node, f"attribute `.{attr}` is not allowed")
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._check_mutation(node, node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._check_mutation(node, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "type" and len(node.args) != 1:
            self.flag("builtins", node, "`type(...)` with more than one argument (class creation) is not allowed")
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
            self._check_format(node, func)
        self.generic_visit(node)

    def _check_format(self, node: ast.Call, func: ast.Attribute) -> None:
        if not (isinstance(func.value, ast.Constant) and isinstance(func.value.value, str)):
            self.flag("format", node, "`.format` is allowed only on a string literal; use an f-string")
            return
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(func.value.value) if f]
        except ValueError:
            fields = []
        if any("." in f or "[" in f for f in fields):
            self.flag("format", node, "format fields may not read attributes or items; use an f-string")

    # ------------------------------------------------------------------ definitions and scopes

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for keyword in node.keywords:
            self.flag("dunders", node, f"class keyword `{keyword.arg}=` (metaclasses, hooks) is not allowed")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if _is_dunder(node.name) and node.name not in ALLOWED_DUNDER_DEFINITIONS:
            self.flag("dunders", node, f"defining `{node.name}` is not allowed")
        params = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
        foreign = {p for p in params if p in HARNESS_PARAMETERS}
        if node.name in ("run", "run_batch", "solve"):  # whatever they are called, these get the harness's objects
            foreign.update(p for p in params if p not in ("self", "cls"))
        self.foreign.append(foreign)
        self.generic_visit(node)
        self.foreign.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        # an alias of a foreign object is foreign too: `e = episode; e.tokens = 0`
        if self._is_foreign(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.foreign[-1].add(target.id)
        self.generic_visit(node)

    # ------------------------------------------------------------------ helpers

    def _check_mutation(self, target: ast.AST, node: ast.AST) -> None:
        root = _root(target)
        if isinstance(root, ast.Call) or (isinstance(root, ast.Name) and self._is_foreign(root)):
            self.flag(
                "monkeypatch",
                node,
                f"`{_describe(target)}` changes an object this file did not create (imported objects, "
                "the episode); keep state on `self`",
            )

    def _is_foreign(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.imported or any(node.id in scope for scope in self.foreign)
        if isinstance(node, ast.Attribute):
            return self._is_foreign(_root(node))
        return False

    def _own_object(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and (node.id in ("self", "cls") or node.id in self.own_classes)


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node


def _describe(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowlist_hint() -> str:
    return (
        "allowed: math, statistics, collections, itertools, functools, heapq, bisect, dataclasses, typing, "
        "random, enum, abc, fractions, numpy, scipy (stats, special, optimize, ...), autotts.controllers"
    )


def describe_findings(findings: Iterable[Finding], limit: int = 3) -> str:
    """A short text of the first findings (for reasons and failure records)."""
    items = list(findings)
    text = "; ".join(str(f) for f in items[:limit])
    if len(items) > limit:
        text += f"; and {len(items) - limit} more"
    return text
