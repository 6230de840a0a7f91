"""Replay data: store loading, schema check, catalog of published stores, fetch with checksums."""

from .catalog import ALL_STORES, MODELS, split_stores
from .fetch import FetchError, data_dir, fetch_store, fetch_stores
from .lookup import (
    StoreNotInstalled,
    load_store,
    register_store,
    registered_stores,
    resolve_store_names,
    store_path,
    unregister_store,
)
from .store import ERR, AnswerMatrix, Branch, Question, Store, StoreError, StoreSummary, load_store_file

__all__ = [
    "ALL_STORES",
    "ERR",
    "MODELS",
    "AnswerMatrix",
    "Branch",
    "FetchError",
    "Question",
    "Store",
    "StoreError",
    "StoreNotInstalled",
    "StoreSummary",
    "data_dir",
    "fetch_store",
    "fetch_stores",
    "load_store",
    "load_store_file",
    "register_store",
    "registered_stores",
    "resolve_store_names",
    "split_stores",
    "store_path",
    "unregister_store",
]
