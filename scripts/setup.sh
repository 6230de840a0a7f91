#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment with autotts and its test tools, and the replay data
# from ../shared/replay (or $AUTOTTS_MIRROR), verified against the published checksums.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

MIRROR="${AUTOTTS_MIRROR:-../shared/replay}"
if [ -d "$MIRROR" ]; then
  .venv/bin/autotts data fetch --from "$MIRROR"
else
  .venv/bin/autotts data fetch  # the upstream address
fi
