#!/usr/bin/env bash
# The web app's browser tests (tests/browser/, pytest): headless Chromium
# (Debian's `chromium`) driven by Playwright (PyPI `playwright`, with
# `executable_path`, so no browser download), axe-core through PyPI
# `axe-playwright-python`. Installs what is missing, builds the server and
# starts the SMTP catcher of scripts/services.sh; the tests' fixtures start
# the server on the embedded default (tests/browser/conftest.py). A missing
# service fails the run. Screenshots of every page at 375 px and 1440 px
# land in $SCREENSHOTS (default target/web-screenshots).
#
#   bash scripts/browser.sh                 # every flow
#   bash scripts/browser.sh -k gallery      # pytest's arguments pass through
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
if ! "$venv/bin/python" -c 'import playwright, axe_playwright_python, PIL, pytest' 2>/dev/null; then
    echo "== installing playwright, axe-playwright-python, pillow and pytest (pip)" >&2
    "$venv/bin/pip" install -q 'playwright==1.*' 'axe-playwright-python==0.1.*' 'pillow>=10' 'pytest>=8' >&2
fi
if [ -z "${PROOFSHEET_TEST_MAILDIR:-}" ]; then
    eval "$(scripts/services.sh)"
fi

# The feature set of the test run (scripts/test.sh), so this reuses its build.
features=()
if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi
cargo build -q --workspace --bin proofsheet "${features[@]}"
# "Find me" runs when the build has it and the models are installed.
if [[ "${PROOFSHEET_FEATURES:-}" != *faces* ]]; then
    unset PROOFSHEET_FACES_MODELS_DIR
fi
PROOFSHEET_BIN="$CARGO_TARGET_DIR/debug/proofsheet" SCREENSHOTS="${SCREENSHOTS:-$PWD/target/web-screenshots}" \
    CHROMIUM="$(command -v chromium)" exec "$venv/bin/python" -m pytest -p no:cacheprovider -q -rfEs \
    tests/browser "$@"
