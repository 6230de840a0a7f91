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

# bubblewrap: the OS boundary untrusted controller files run behind (discovery evaluates every
# proposal there; without it autotts refuses to run them rather than run them unconfined)
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "note: bubblewrap is not installed (sudo apt-get install bubblewrap); controller files will be refused" >&2
  fi
fi

MIRROR="${AUTOTTS_MIRROR:-../shared/replay}"
if [ -d "$MIRROR" ]; then
  .venv/bin/autotts data fetch --from "$MIRROR"
else
  .venv/bin/autotts data fetch  # the upstream address
fi
