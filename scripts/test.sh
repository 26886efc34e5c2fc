#!/usr/bin/env bash
# Runs every test of the workspace on this machine, setting up what the tests
# need first. Safe to run again and again; CI runs exactly this (.ci/run).
#
#   scripts/test.sh            # all tests
#   scripts/test.sh -p proofsheet-server   # extra args go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust (rustup) first" >&2
    exit 1
fi

# The embedded default needs nothing beyond Rust: SQLite is bundled, files
# go to a temp dir, the test gateway is in-process.

echo "== cargo test (workspace, all features that build here)"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
