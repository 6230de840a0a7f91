#!/usr/bin/env bash
# Programs some tests drive for real: headless Chromium (the report test). Installed only when
# missing, and only where we may (root, as on CI).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed; the browser test will fail (sudo apt-get install chromium)" >&2
  fi
fi
