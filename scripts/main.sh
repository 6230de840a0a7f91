#!/usr/bin/env bash
# Set everything up and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/autotts reproduce --out results/reproduce
