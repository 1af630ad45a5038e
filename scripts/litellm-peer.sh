#!/usr/bin/env bash
# Installs the pinned LiteLLM proxy (bench/litellm-requirements.txt) into target/litellm-venv,
# once: a benchmark peer, kept out of .venv so the project's own tools stay small.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/litellm-venv"

if [ ! -x "$VENV/bin/litellm" ]; then
  echo "==> installing the LiteLLM proxy into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/bench/litellm-requirements.txt"
fi
echo "$VENV/bin/litellm"
