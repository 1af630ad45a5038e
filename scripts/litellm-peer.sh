#!/usr/bin/env bash
# The LiteLLM proxy as a benchmark peer. `scripts/litellm-peer.sh` installs it (pinned, in
# bench/litellm-requirements.txt) into target/litellm-venv once and prints its path;
# `scripts/litellm-peer.sh PORT` also runs it there on 127.0.0.1, in front of $OPENAI_BASE_URL.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/litellm-venv"

# Kept under target/, apart from .venv: ~750 MB the project's own tools do not need.
if [ ! -x "$VENV/bin/litellm" ]; then
  echo "==> installing the LiteLLM proxy into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/bench/litellm-requirements.txt"
fi
[ $# -eq 0 ] && { echo "$VENV/bin/litellm"; exit 0; }

: "${OPENAI_BASE_URL:?set OPENAI_BASE_URL to the upstream, e.g. http://127.0.0.1:8010/v1}"
# Offline and quiet: the packaged cost map instead of a download, no telemetry, no .env loading.
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY_DISABLED=true LITELLM_MODE=PRODUCTION
export LITELLM_LOG=ERROR OPENAI_API_KEY="${OPENAI_API_KEY:-sk-stub}"
unset DATABASE_URL
# Run from target/ so no stray .env or litellm.secrets in the work tree is picked up.
cd "$ROOT/target"
exec "$VENV/bin/litellm" --config "$ROOT/bench/litellm-config.yaml" --host 127.0.0.1 --port "$1" --num_workers 1
