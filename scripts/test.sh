#!/usr/bin/env bash
# Runs the whole test suite. Prepares the Python venv (.venv) that tests/python_sdk drives the
# official OpenAI SDK from and tests/schemathesis runs schemathesis from: created if missing, and
# tests/python/requirements.txt installed again whenever it is newer than the last install.
# Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=tests/python/requirements.txt
marker="$venv/.requirements-installed"

if [ ! -x "$venv/bin/python" ]; then
  echo "+ python3 -m venv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
fi
if [ ! -e "$marker" ] || [ "$requirements" -nt "$marker" ]; then
  echo "+ $venv/bin/python -m pip install -r $requirements"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$marker"
fi

echo "+ cargo test --workspace --locked${*:+ $*}"
exec cargo test --workspace --locked "$@"
