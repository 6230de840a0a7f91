"""Finding and loading stores by name: installed files, files given by path, and stores held in memory
(with a per-process cache of loaded files)."""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path

from .catalog import ALL_STORES, split_stores
from .fetch import data_dir, installed_path
from .importing import installed_stores
from .store import Store, StoreError, load_store_file

_CACHE: dict[tuple[str, str], Store] = {}
# stores held in memory under a name (e.g. a transformed store, ``Qwen3-4B/aime25~delta1000``); they
# take precedence over files, so everything that loads stores by name (evaluate, its forked workers,
# the sandbox's parent) sees them
_REGISTERED: dict[str, Store] = {}


class StoreNotInstalled(LookupError):
    pass


def resolve_store_names(stores: list[str] | None = None, split: str | None = None) -> list[str]:
    """Expand ``--store`` values (names or ``MODEL/*``-style globs) and ``--split`` into names."""
    names: list[str] = []
    if split:
        names.extend(split_stores(split))
    for item in stores or []:
        if "*" in item:
            # published names, plus stores imported into the data directory (`autotts data import`)
            known = list(dict.fromkeys([*ALL_STORES, *installed_stores(data_dir())]))
            matched = [n for n in known if fnmatch.fnmatch(n, item)]
            if not matched:
                raise ValueError(f"--store {item!r} matches no known store")
            names.extend(matched)
        else:
            names.append(item)
    seen: dict[str, None] = dict.fromkeys(names)
    return list(seen)


def store_path(name: str, root: Path | None = None) -> Path:
    """Path of an installed store, or of a file given directly (``path/to/store.json[.gz]``)."""
    direct = Path(name)
    if direct.suffix in (".json", ".gz") and direct.is_file():
        return direct
    root = root or data_dir()
    path = installed_path(name, root)
    if not path.is_file():
        known = [*ALL_STORES, *(n for n in installed_stores(root) if n not in ALL_STORES)]
        if name not in known:
            raise StoreNotInstalled(
                f"unknown store {name!r}: it is neither a published store nor imported into {root}, "
                f"nor a store file; known stores: {', '.join(known)}"
            )
        raise StoreNotInstalled(
            f"store {name!r} is not installed in {path.parent.parent}; "
            "run `autotts data fetch` (or `autotts data fetch --from ../shared/replay`)"
        )
    return path


def register_store(name: str, store: Store) -> Store:
    """Make an in-memory ``store`` loadable as ``load_store(name)`` in this process (and in worker
    processes forked after this call). Names of the published stores cannot be taken over, so a
    registered store never silently replaces real data; registering the same name again replaces
    the earlier registration. Returns the store as registered (renamed to ``name`` if needed)."""
    if not isinstance(store, Store):
        raise TypeError(f"register_store: expected a Store, got {type(store).__name__}")
    if not name or name in ALL_STORES:
        raise ValueError(f"register_store: {name!r} is empty or the name of a published store")
    if not store.questions:
        raise ValueError(f"register_store: store {name!r} has no questions")
    if store.name != name:
        store = dataclasses.replace(store, name=name)
    _REGISTERED[name] = store
    return store


def unregister_store(name: str) -> None:
    """Forget a store registered with :func:`register_store` (no error if it is not registered)."""
    _REGISTERED.pop(name, None)


def registered_stores() -> list[str]:
    """Names of the stores registered in memory."""
    return list(_REGISTERED)


def load_store(name: str, root: Path | None = None) -> Store:
    """A store registered in memory under ``name``, else an installed store by name (cached per process)."""
    registered = _REGISTERED.get(name)
    if registered is not None:
        return registered
    path = store_path(name, root)
    key = (name, str(path))
    if key not in _CACHE:
        store = load_store_file(path, name if Path(name).suffix not in (".json", ".gz") else None)
        _CACHE[key] = store
    return _CACHE[key]


def forget_stores(names: list[str] | None = None) -> None:
    """Drop stores from this process's cache (all when ``names`` is None), so the next load reads the
    file again — for re-running an evaluation after the file may have changed (``autotts verify``)."""
    for key in [k for k in _CACHE if names is None or k[0] in names]:
        del _CACHE[key]


__all__ = [
    "StoreError",
    "StoreNotInstalled",
    "forget_stores",
    "load_store",
    "register_store",
    "registered_stores",
    "resolve_store_names",
    "store_path",
    "unregister_store",
]
