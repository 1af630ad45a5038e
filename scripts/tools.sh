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
