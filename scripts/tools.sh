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
  echo "==> installing tools from requirements-dev.txt into .venv (cargo-lambda, moto, cfn-lint, sam)"
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
  if ! command -v node >/dev/null 2>&1; then
    echo "error: node is needed for the browser tests (apt-get install nodejs npm)" >&2
    exit 1
  fi
  local lock="$ROOT/tests/browser/package-lock.json" stamp="$ROOT/tests/browser/node_modules/.installed-lock.json"
  if ! cmp -s "$lock" "$stamp"; then
    echo "==> installing playwright-core into tests/browser/node_modules"
    (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --silent)
    cp "$lock" "$stamp"
  fi
}
