#!/usr/bin/env bash
# Runs every test of the workspace on this machine, setting up what the tests
# need first. Safe to run again and again; CI runs exactly this (.ci/run).
#
#   scripts/test.sh            # all tests
#   scripts/test.sh -p proofsheet-server   # extra args go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

# The example watermark plugins, for the tests that run them.
bash plugins/build.sh

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust (rustup) first" >&2
    exit 1
fi

# The embedded default needs nothing beyond Rust (SQLite is bundled, files
# go to a temp dir, the test gateway is in-process). The scale-out backends
# are tested against real servers on loopback: PostgreSQL and an
# S3-compatible server, installed and started here if missing. Set
# PROOFSHEET_SKIP_SERVICES=1 to run only the embedded-default tests.
if [ -z "${PROOFSHEET_SKIP_SERVICES:-}" ]; then
    echo "== starting PostgreSQL and S3 (moto) on loopback"
    eval "$(scripts/services.sh)"
    export PROOFSHEET_REQUIRE_SERVICES=1
fi

echo "== cargo test (workspace, all features that build here)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
{ cargo test --workspace --all-targets "$@" && cargo test --workspace --doc "$@"; } 2>&1 | tee "$log" || status=$?
# The imaging pipeline's tests again with libjpeg-turbo built in beside
# MozJPEG and the pure-Rust codecs (the tests run every codec the build
# has; the pure-Rust path is in every build, so the run above covered it).
# `--workspace` keeps the workspace's feature set, so only the imaging crate
# and libjpeg-turbo are built again (about 2 minutes), not wasmtime or sqlx.
# libjpeg-turbo's bundled build needs cmake and nasm. Only on a whole run;
# set PROOFSHEET_SKIP_TURBOJPEG=1 to leave it out.
if [ "$status" = 0 ] && [ $# -eq 0 ] && [ -z "${PROOFSHEET_SKIP_TURBOJPEG:-}" ]; then
    if ! command -v cmake >/dev/null || ! command -v nasm >/dev/null; then
        echo "== installing cmake and nasm (libjpeg-turbo's build)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmake nasm >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmake nasm >/dev/null; }
    fi
    echo "== cargo test --workspace --features proofsheet-imaging/turbojpeg --test pipeline"
    cargo test --workspace --features proofsheet-imaging/turbojpeg --test pipeline 2>&1 | tee -a "$log" || status=$?
fi
# The "Find me" face engine (the `faces` feature: dlib, a C++ library from
# Debian, and models from PyPI, installed by scripts/faces-models.sh), with
# its conformance suite on labelled photos. Like libjpeg-turbo above, only
# the imaging crate and dlib's bindings are built again. Only on a whole
# run; set PROOFSHEET_SKIP_FACES=1 to leave it out.
if [ "$status" = 0 ] && [ $# -eq 0 ] && [ -z "${PROOFSHEET_SKIP_FACES:-}" ]; then
    echo "== face models and photos (scripts/faces-models.sh)"
    eval "$(bash scripts/faces-models.sh)"
    echo "== cargo test --workspace --features proofsheet-imaging/faces --test faces"
    cargo test --workspace --features proofsheet-imaging/faces --test faces 2>&1 | tee -a "$log" || status=$?
fi
# The web app in headless Chromium (needs the SMTP catcher of services.sh).
if [ "$status" = 0 ] && [ $# -eq 0 ] && [ -z "${PROOFSHEET_SKIP_SERVICES:-}" ] && [ -z "${PROOFSHEET_SKIP_BROWSER:-}" ]; then
    echo "== browser tests (scripts/browser.sh)"
    if bash scripts/browser.sh 2>&1 | tee -a "$log" | grep -v ' INFO '; then
        echo "test result: ok. 1 passed; 0 failed (browser tests)" >>"$log"
    else
        echo "test result: FAILED. 0 passed; 1 failed (browser tests)" >>"$log"
        status=1
    fi
fi
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
