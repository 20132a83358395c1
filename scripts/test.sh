#!/usr/bin/env bash
# The one test command: formatting, lints, unit tests and end-to-end tests
# (the e2e tests start real `k3rs server` processes and drive them with stock kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --locked --bin k3rs
cargo test --workspace --locked --no-fail-fast
