"""Finding and loading installed stores by name, with a per-process cache."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from .catalog import ALL_STORES, split_stores
from .fetch import data_dir, installed_path
from .importing import installed_stores
from .store import Store, StoreError, load_store_file

_CACHE: dict[tuple[str, str], Store] = {}


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
    path = installed_path(name, root or data_dir())
    if not path.is_file():
        raise StoreNotInstalled(
            f"store {name!r} is not installed in {path.parent.parent}; "
            "run `autotts data fetch` (or `autotts data fetch --from ../shared/replay`)"
        )
    return path


def load_store(name: str, root: Path | None = None) -> Store:
    """Load an installed store by name (cached per process)."""
    path = store_path(name, root)
    key = (name, str(path))
    if key not in _CACHE:
        store = load_store_file(path, name if Path(name).suffix not in (".json", ".gz") else None)
        _CACHE[key] = store
    return _CACHE[key]


__all__ = ["StoreError", "StoreNotInstalled", "load_store", "resolve_store_names", "store_path"]
