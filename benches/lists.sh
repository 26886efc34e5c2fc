#!/usr/bin/env bash
# A gallery page under load: `GET /api/v1/albums/{id}/photos?limit=100` of a
# public album of 100 ready photos, read by CONNS connections for DURATION
# seconds with wrk, side by side in one run with a poem hello-world (same
# framework and runtime, no work) on the same machine. Prints req/s and p99
# for each and the ratio; then the same page on PostgreSQL when
# PROOFSHEET_TEST_POSTGRES_URL is set (scripts/services.sh starts one), and a
# conditional request (If-None-Match, answered 304).
#
#   bash benches/lists.sh                      # 50 connections, 15 s each
#   CONNS=50 DURATION=30 bash benches/lists.sh
#
# Needs wrk (Debian package `wrk`). Rate limits are off
# (PROOFSHEET__LIMITS__ENABLED=false): this measures the list, not the
# limiter, and wrk's connections share one address.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS="${CONNS:-50}"
DURATION="${DURATION:-15}"
PHOTOS="${PHOTOS:-100}"
PROFILE="${PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v wrk >/dev/null || { echo "lists.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
flag=$([ "$PROFILE" = release ] && echo --release || true)
cargo build -q $flag -p proofsheet-server --bin proofsheet --example load
bin="$CARGO_TARGET_DIR/$PROFILE"
# bench_admin; sourced first, as it defines a `cleanup` of its own, which
# the one below replaces (else the servers started here outlive the run).
. benches/server.sh
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 1 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "not up: $1" >&2; exit 1; }

# wrk's summary: "Requests/sec: N" and the 99% line of --latency.
measure() { # label url [header]
    local out
    if [ -n "${3:-}" ]; then
        out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "$3" "$2")
    else
        out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$2")
    fi
    local rps p99 errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    printf '%-34s %12s req/s   p99 %8s   non-2xx/3xx %s\n' "$1" "$rps" "$p99" "${errs:-0}"
    echo "$rps" >"$work/$(tr -c 'a-z0-9' _ <<<"$1")"
}
rps_of() { cat "$work/$(tr -c 'a-z0-9' _ <<<"$1")"; }

"$bin/examples/load" hello 127.0.0.1:18390 & pids+=($!)
wait_up http://127.0.0.1:18390/

serve() { # name port [database url]
    local dir="$work/$1"
    mkdir -p "$dir"
    if [ -n "${3:-}" ]; then
        PROOFSHEET__DATABASE__URL="$3" PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn \
            "$bin/proofsheet" serve --addr "127.0.0.1:$2" --data-dir "$dir" >"$dir/log" 2>&1 &
    else
        PROOFSHEET__LIMITS__ENABLED=false RUST_LOG=warn \
            "$bin/proofsheet" serve --addr "127.0.0.1:$2" --data-dir "$dir" >"$dir/log" 2>&1 &
    fi
    pids+=($!)
    wait_up "http://127.0.0.1:$2/healthz"
    # The seed's photographer is vouched for against this server's data.
    if [ -n "${3:-}" ]; then bench_admin "$bin/proofsheet" "$dir" PROOFSHEET__DATABASE__URL="$3"; else bench_admin "$bin/proofsheet" "$dir"; fi
}

bench_backend() { # label port
    local base="http://127.0.0.1:$2" album url etag
    album=$("$bin/examples/load" seed "$base" "$PHOTOS")
    url="$base/api/v1/albums/$album/photos?limit=100"
    measure "list 100 ($1)" "$url"
    etag=$(curl -sI "$url" | awk 'tolower($1) == "etag:" {sub(/\r$/, ""); print $2}')
    if [ -n "$etag" ]; then
        measure "list 100, 304 ($1)" "$url" "If-None-Match: $etag"
    fi
}

echo "wrk: $CONNS connections, 2 threads, ${DURATION} s per line; $PHOTOS photos; $(nproc) cores"
measure "poem hello-world" http://127.0.0.1:18390/
serve sqlite 18391
bench_backend sqlite 18391
if [ -n "${PROOFSHEET_TEST_POSTGRES_URL:-}" ]; then
    db="lists_$$"
    psql -q "$PROOFSHEET_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
    pg_url="${PROOFSHEET_TEST_POSTGRES_URL%/*}/$db"
    serve postgres 18392 "$pg_url"
    bench_backend postgres 18392
fi
awk -v h="$(rps_of "poem hello-world")" -v s="$(rps_of "list 100 (sqlite)")" \
    'BEGIN { printf "ratio list/hello-world (sqlite): %.1f %%\n", 100 * s / h }'
if [ -n "${PROOFSHEET_TEST_POSTGRES_URL:-}" ]; then
    awk -v h="$(rps_of "poem hello-world")" -v s="$(rps_of "list 100 (postgres)")" \
        'BEGIN { printf "ratio list/hello-world (postgres): %.1f %%\n", 100 * s / h }'
    psql -q "$PROOFSHEET_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null 2>&1 || true
fi
