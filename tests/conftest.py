"""Shared fixtures. Tests read the real replay stores: from $AUTOTTS_DATA_DIR when it holds them,
else fetched once per session from ../shared/replay (beside the checkout) into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autotts.data import ALL_STORES, data_dir, fetch_stores
from autotts.data.fetch import installed_path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MIRROR = SHARED / "replay"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session", autouse=True)
def replay_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding all twelve stores; exported as AUTOTTS_DATA_DIR for the CLI too."""
    root = data_dir()
    if not all(installed_path(name, root).is_file() for name in ALL_STORES):
        if not MIRROR.is_dir():
            pytest.exit(f"no replay data: {root} is incomplete and {MIRROR} does not exist", returncode=2)
        root = tmp_path_factory.mktemp("autotts-data")
        fetch_stores(ALL_STORES, root, str(MIRROR))
    os.environ["AUTOTTS_DATA_DIR"] = str(root)
    return root


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"published reference figures not found at {REFERENCE}")
    return REFERENCE
