#!/usr/bin/env bash
# Resumable (tus) uploads against plain ones: the same files, side by side
# in one run, on a release build of the embedded default (or of PostgreSQL +
# S3 with SCALE_OUT=1, using the servers of scripts/services.sh). Prints
# MB/s for each, the ratio (issue 14's target: tus at least 80 % of plain
# at 5 MB chunks) and /healthz latency while the uploads run.
#
#   bash benches/uploads.sh
#   FILES=16 SIZE_MB=20 CHUNK_MB=5 ROUNDS=3 SCALE_OUT=1 bash benches/uploads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
state=/var/tmp/proofsheet-services
venv="$state/venv"
[ -x "$venv/bin/pip" ] || { mkdir -p "$state"; python3 -m venv "$venv"; }
"$venv/bin/python" -c 'import tusclient, PIL, requests' 2>/dev/null ||
    "$venv/bin/pip" install -q 'tuspy==1.1.0' 'pillow>=10' requests >&2

env=(PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn PROOFSHEET__UPLOADS__MAX_BYTES=209715200)
. benches/server.sh
start_server uploads "${PORT:-18397}"
PROOFSHEET_URL="$base" "$venv/bin/python" benches/uploads.py
