"""Shared fixtures.

Two tiers. Tests marked ``synthetic`` run on small stores the tests build themselves
(:func:`synthetic.tiny_store`) and need nothing installed: they run on a fresh clone in seconds.
Every other test reads the real replay stores: from $AUTOTTS_DATA_DIR when it holds them, else fetched
once per session from ../shared/replay (beside the checkout) into a temporary folder. Where neither
exists those tests are skipped with the reason — except under CI (``CI`` set), where that is a failure.
Tests marked ``slow`` are long end-to-end checks; ``pytest -m "not slow"`` is the quick tier.
"""

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


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def replay_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding all twelve stores; exported as AUTOTTS_DATA_DIR for the CLI too."""
    root = data_dir()
    if not all(installed_path(name, root).is_file() for name in ALL_STORES):
        if not MIRROR.is_dir():
            _missing(
                f"needs the replay stores: {root} is incomplete and {MIRROR} does not exist "
                "(run `bash scripts/setup.sh` with ../shared beside the checkout)"
            )
        root = tmp_path_factory.mktemp("autotts-data")
        fetch_stores(ALL_STORES, root, str(MIRROR))
    os.environ["AUTOTTS_DATA_DIR"] = str(root)
    return root


@pytest.fixture(autouse=True)
def _real_stores(request: pytest.FixtureRequest) -> None:
    """Every test not marked ``synthetic`` gets the real stores."""
    if request.node.get_closest_marker("synthetic") is None:
        request.getfixturevalue("replay_data")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        _missing(f"needs the published reference figures at {REFERENCE}")
    return REFERENCE
