#!/usr/bin/env bash
# Load test on loopback: CLIENTS concurrent clients for DURATION seconds
# browse a public album, fetch previews and thumbnails and create orders
# while a photographer uploads a 6 MP photo every 500 ms. Prints req/s and
# latency percentiles per kind of request, the error count (it must be 0),
# and the server's RSS before, right after, and 10 s after the run.
#
#   bash benches/load.sh                       # 50 clients, 60 s, release build
#   CLIENTS=20 DURATION=10 PROFILE=debug bash benches/load.sh
#   ROUNDS=3 bash benches/load.sh             # the same load again: RSS must level off
#
# The server runs the embedded default (SQLite, files) with rate limits off
# (PROOFSHEET__LIMITS__ENABLED=false): this measures capacity, not the
# limiter, and all clients share one address.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${CLIENTS:-50}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-60}"
PROFILE="${PROFILE:-release}"
PORT="${PORT:-18282}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
flag=$([ "$PROFILE" = release ] && echo --release || true)
cargo build -q $flag -p proofsheet-server --bin proofsheet --example load
bin="$CARGO_TARGET_DIR/$PROFILE"
data=$(mktemp -d)
PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn "$bin/proofsheet" serve --addr "127.0.0.1:$PORT" --data-dir "$data" \
    >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
. benches/server.sh  # bench_admin: the load's accounts are vouched for
bench_admin "$bin/proofsheet" "$data"
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
line="server RSS: $(rss) MiB before"
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round"
    "$bin/examples/load" "http://127.0.0.1:$PORT" "$CLIENTS" "$DURATION"
    after=$(rss)
    sleep 10
    line="$line; round $round: $after MiB right after, $(rss) MiB 10 s later"
done
echo "$line"
