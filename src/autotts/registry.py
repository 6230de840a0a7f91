"""One generic, lazy registry of named extensions: controllers and proposers.

An entry is either an object or a reference ``"package.module:Attribute"`` that is imported the first
time the name is looked up, so naming a proposer never imports the SDKs of the others. A user's
package adds entries without touching autotts by declaring Python entry points in the registry's
group (``autotts.controllers`` or ``autotts.proposers``)::

    [project.entry-points."autotts.controllers"]
    my-policy = "my_package.policies:MyPolicy"

Entry points are read once, on the first lookup of a name the registry does not know, or when every
name is listed. A name registered in-process (``@register``) or built in wins over an entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """A name is unknown, or its entry cannot be loaded (the message says which and why)."""


class Registry(Generic[T]):
    """Names -> objects of one kind (``kind`` is used in messages; ``group`` is the entry-point group).

    ``on_load(name, obj)`` runs once per entry when it is first resolved (e.g. to name a class)."""

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: dict[str, str] | None = None,
        on_load: Callable[[str, T], None] | None = None,
    ):
        self.kind = kind
        self.group = group
        self._entries: dict[str, T | str] = dict(builtins or {})
        self._on_load = on_load
        self._scanned = False

    # -- adding

    def add(self, name: str, entry: T | str) -> None:
        """Register ``entry`` (an object, or a ``"module:attr"`` reference) under ``name``; a name that
        is taken by anything else is an error, so a plugin never silently replaces a built-in."""
        current = self._entries.get(name)
        if current is not None and current is not entry:
            raise ValueError(f"{self.kind} name {name!r} is already registered")
        self._entries[name] = entry
        if not isinstance(entry, str) and self._on_load:
            self._on_load(name, entry)

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` on a class or function registers it under ``name``."""

        def wrap(obj: T) -> T:
            self.add(name, obj)
            return obj

        return wrap

    # -- looking up

    def names(self) -> list[str]:
        """Every known name, entry points included, sorted."""
        self._scan_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._scan_entry_points()
        return name in self._entries

    def get(self, name: str) -> T:
        """The object registered under ``name``, imported on first use."""
        if name not in self:
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}")
        entry = self._entries[name]
        if isinstance(entry, str):
            obj = _import_reference(entry, self.kind, name)
            if self._on_load:
                self._on_load(name, obj)  # may refuse the object: then the reference stays unresolved
            self._entries[name] = obj
            return obj
        return entry

    def _scan_entry_points(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for point in entry_points(group=self.group):
            self._entries.setdefault(point.name, point.value)


def _import_reference(reference: str, kind: str, name: str) -> object:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise RegistryError(f"{kind} {name!r}: its module {module_name!r} is not installed") from None
        raise RegistryError(
            f"{kind} {name!r} needs the Python package {exc.name!r}, which is not installed"
        ) from exc
    obj = module
    for part in attribute.split(".") if attribute else []:
        obj = getattr(obj, part, None)
        if obj is None:
            raise RegistryError(f"{kind} {name!r}: {module_name} defines no {attribute}")
    return obj

