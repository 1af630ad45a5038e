# Sourced by scripts/run and scripts/test: puts the project's tools on PATH, installing what
# is missing into a project-local virtualenv (.venv) from PyPI. Installs nothing globally.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements-dev.txt"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs first" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  python3 -m venv "$VENV"
fi
if ! cmp -s "$ROOT/requirements-dev.txt" "$STAMP"; then
  echo "==> installing tools from requirements-dev.txt into .venv (cargo-lambda, moto, cfn-lint, sam, schemathesis)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  cp "$ROOT/requirements-dev.txt" "$STAMP"
fi
export PATH="$VENV/bin:$PATH"

# The browser tests' tools: Debian's Chromium (no browser download is possible or wanted) and
# playwright-core from npm, pinned in tests/browser/package-lock.json.
ensure_browser_tools() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Debian's chromium for the browser tests"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
  npm_ci_locked browser "playwright-core" "the browser tests"
}

# Installs tests/<dir>/node_modules from its package-lock.json, again only when the lock changed.
npm_ci_locked() {
  local dir="$ROOT/tests/$1" what="$2" needed_by="$3"
  if ! command -v node >/dev/null 2>&1; then
    echo "error: node is needed for $needed_by (apt-get install nodejs npm)" >&2
    exit 1
  fi
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"; then
    echo "==> installing $what into tests/$1/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
  fi
}

# The DynamoDB emulator for the limits: dynalite from npm (atomic under concurrent conditional
# writes, which the limits rely on), pinned in tests/dynamo/package-lock.json.
ensure_dynamo_tools() {
  npm_ci_locked dynamo "dynalite" "the DynamoDB emulator"
}

# The Vercel AI SDK (npm `ai`), whose own chat client the AI SDK tests run against chat-stream,
# pinned in tests/aisdk/package-lock.json.
ensure_ai_sdk_tools() {
  npm_ci_locked aisdk "the AI SDK (ai)" "the AI SDK tests"
}
