#!/usr/bin/env bash
# The one test command: formatting, lints, unit tests and end-to-end tests
# (the e2e tests start real `k3rs server` processes and drive them with stock kubectl,
# kube-rs, curl and the official Python client).
set -euo pipefail
cd "$(dirname "$0")/.."

# The official Python client, in a virtualenv kept outside the tree.
venv="${K3RS_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/k3rs-test-venv}"
if ! "$venv/bin/python" -c 'import kubernetes' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubernetes>=29'
fi
export K3RS_TEST_PYTHON="$venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --locked --bin k3rs
cargo test --workspace --locked --no-fail-fast
