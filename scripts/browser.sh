#!/usr/bin/env bash
# The web app's browser tests (tests/browser/test_web.py): headless Chromium
# (Debian's `chromium`) driven by Playwright (PyPI `playwright`, with
# `executable_path`, so no browser download), axe-core through PyPI
# `axe-playwright-python`. Installs what is missing, starts a server on the
# embedded default with mail going to the SMTP catcher of
# scripts/services.sh, and runs the tests. Screenshots of every page at
# 375 px and 1440 px land in $SCREENSHOTS (default target/web-screenshots).
#
#   bash scripts/browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
state=/var/tmp/proofsheet-services
venv="$state/venv"

if ! command -v chromium >/dev/null; then
    echo "== installing chromium (apt)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
[ -x "$venv/bin/pip" ] || { mkdir -p "$state"; python3 -m venv "$venv"; }
if ! "$venv/bin/python" -c 'import playwright, axe_playwright_python, PIL' 2>/dev/null; then
    echo "== installing playwright, axe-playwright-python and pillow (pip)" >&2
    "$venv/bin/pip" install -q 'playwright==1.*' 'axe-playwright-python==0.1.*' 'pillow>=10' >&2
fi
if [ -z "${PROOFSHEET_TEST_MAILDIR:-}" ]; then
    eval "$(scripts/services.sh)"
fi

# The feature set of the test run (scripts/test.sh), so this reuses its build.
features=()
if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi
cargo build -q --workspace --bin proofsheet "${features[@]}"
port="${PORT:-18282}"
data=$(mktemp -d)
# "Find me" runs when the build has it and the models are installed.
if [[ "${PROOFSHEET_FEATURES:-}" == *faces* ]] && [ -n "${PROOFSHEET_FACES_MODELS_DIR:-}" ]; then
    export PROOFSHEET__FACES__MODELS_DIR="$PROOFSHEET_FACES_MODELS_DIR"
fi
PROOFSHEET__MAIL__SMTP_URL="$PROOFSHEET_TEST_SMTP_URL" PROOFSHEET__LIMITS__ENABLED=false \
    "$CARGO_TARGET_DIR/debug/proofsheet" serve --addr "127.0.0.1:$port" --data-dir "$data" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

status=0
PROOFSHEET_URL="http://127.0.0.1:$port" SCREENSHOTS="${SCREENSHOTS:-$PWD/target/web-screenshots}" \
    CHROMIUM="$(command -v chromium)" "$venv/bin/python" tests/browser/test_web.py || status=$?
if [ "$status" != 0 ]; then
    echo "== server log (last 40 lines)" >&2
    tail -n 40 "$data/server.log" >&2
fi
exit "$status"
