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

cargo build -q --release -p proofsheet-server --bin proofsheet
port="${PORT:-18397}"
data=$(mktemp -d)
env=(PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn PROOFSHEET__UPLOADS__MAX_BYTES=209715200)
if [ "${SCALE_OUT:-0}" = 1 ]; then
    eval "$(scripts/services.sh)"
    db="proofsheet_bench_uploads_$$"
    psql "$PROOFSHEET_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
    env+=(PROOFSHEET__DATABASE__URL="${PROOFSHEET_TEST_POSTGRES_URL%/*}/$db"
        PROOFSHEET__STORAGE__KIND=s3 PROOFSHEET__STORAGE__S3__BUCKET="${PROOFSHEET_TEST_S3_BUCKET:-proofsheet-test}"
        PROOFSHEET__STORAGE__S3__ROOT="/bench-uploads-$$" PROOFSHEET__STORAGE__S3__ENDPOINT="$PROOFSHEET_TEST_S3_ENDPOINT"
        PROOFSHEET__STORAGE__S3__ACCESS_KEY_ID=test-key PROOFSHEET__STORAGE__S3__SECRET_ACCESS_KEY=test-secret)
    echo "backend: PostgreSQL + S3 (moto)" >&2
else
    echo "backend: SQLite + files (the embedded default)" >&2
fi
env "${env[@]}" "$CARGO_TARGET_DIR/release/proofsheet" serve --addr "127.0.0.1:$port" --data-dir "$data" \
    >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
PROOFSHEET_URL="http://127.0.0.1:$port" "$venv/bin/python" benches/uploads.py
