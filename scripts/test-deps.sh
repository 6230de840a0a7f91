#!/usr/bin/env bash
# Programs some tests drive for real, installed only when missing and only where we may (root, as on
# CI): headless Chromium (the report test), bubblewrap (the coding agent's file-system sandbox) and
# the Claude Code CLI (the claude-code proposer, run against a loopback server), and llama.cpp's server
# with a small real model (the collect end-to-end test; see scripts/llama-server-deps.sh).
set -euo pipefail
CLAUDE_VERSION=2.1.197

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: not installed: ${missing[*]} (sudo apt-get install ${missing[*]}); their tests will not pass" >&2
  fi
fi

if ! command -v claude >/dev/null 2>&1 && [ ! -x /opt/claude/node_modules/.bin/claude ]; then
  if [ -w /opt ] || [ "$(id -u)" = 0 ]; then
    npm install --prefix /opt/claude --no-audit --no-fund --loglevel=error \
      "@anthropic-ai/claude-code@${CLAUDE_VERSION}" >/dev/null
  else
    echo "note: the Claude Code CLI is not installed; its proposer test will be skipped" >&2
  fi
fi

# llama.cpp's server and Gemma 3 270M for the `autotts collect` end-to-end test (cached, built once)
bash "$(dirname "$0")/llama-server-deps.sh"
