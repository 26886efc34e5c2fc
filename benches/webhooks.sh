#!/usr/bin/env bash
# Webhook deliveries per second to a fast receiver on loopback, with the
# API's latency beside it: GET /api/v1/albums/{id}/photos measured while
# nothing is being delivered, then while EVENTS deliveries are, in one run
# on a release build of the embedded default (or PostgreSQL + S3 with
# SCALE_OUT=1, using the servers of scripts/services.sh). Every delivery is
# verified by the receiver with the official standardwebhooks library.
#
#   bash benches/webhooks.sh
#   EVENTS=4000 ENDPOINTS=8 CONCURRENCY=16 SCALE_OUT=1 bash benches/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
state=/var/tmp/proofsheet-services
venv="$state/venv"
[ -x "$venv/bin/pip" ] || { mkdir -p "$state"; python3 -m venv "$venv"; }
"$venv/bin/python" -c 'import standardwebhooks, requests' 2>/dev/null ||
    "$venv/bin/pip" install -q 'standardwebhooks==1.1.0' requests >&2

env=(PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn PROOFSHEET__WEBHOOKS__ALLOW_HTTP=true
    PROOFSHEET__WEBHOOKS__ALLOW_PRIVATE_NETWORKS=true PROOFSHEET__WEBHOOKS__CONCURRENCY="${CONCURRENCY:-8}")
. benches/server.sh
on_exit() { kill "$receiver" 2>/dev/null; wait "$receiver" 2>/dev/null || true; }
start_server webhooks "${PORT:-18398}"
"$venv/bin/python" benches/webhook_sink.py >"$data/receiver.port" &
receiver=$!
for _ in $(seq 1 100); do [ -s "$data/receiver.port" ] && break; sleep 0.1; done
PROOFSHEET_URL="$base" RECEIVER_URL="http://127.0.0.1:$(head -1 "$data/receiver.port")" \
    "$venv/bin/python" benches/webhooks.py
