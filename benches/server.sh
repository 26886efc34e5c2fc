# Sourced by benchmark scripts: `start_server NAME PORT` builds the release
# server and starts it on 127.0.0.1:PORT with the extra environment in the
# array `env`, on the embedded default or, with SCALE_OUT=1, on PostgreSQL
# + S3 (the servers of scripts/services.sh, a fresh database and key
# prefix). Sets `data` (a temporary folder, removed at exit with the
# server), `server` (its pid) and `base` (its URL); `cleanup` runs at exit
# and calls `on_exit` if the script defined one.
start_server() {
    local name=$1 port=$2
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then
        echo "something already answers on port $port: stop it or set PORT" >&2
        return 1
    fi
    cargo build -q --release --workspace --bin proofsheet
    data=$(mktemp -d)
    if [ "${SCALE_OUT:-0}" = 1 ]; then
        eval "$(scripts/services.sh)"
        local db="proofsheet_bench_${name}_$$"
        psql "$PROOFSHEET_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
        env+=(PROOFSHEET__DATABASE__URL="${PROOFSHEET_TEST_POSTGRES_URL%/*}/$db"
            PROOFSHEET__STORAGE__KIND=s3 PROOFSHEET__STORAGE__S3__BUCKET="${PROOFSHEET_TEST_S3_BUCKET:-proofsheet-test}"
            PROOFSHEET__STORAGE__S3__ROOT="/bench-$name-$$" PROOFSHEET__STORAGE__S3__ENDPOINT="$PROOFSHEET_TEST_S3_ENDPOINT"
            PROOFSHEET__STORAGE__S3__ACCESS_KEY_ID=test-key PROOFSHEET__STORAGE__S3__SECRET_ACCESS_KEY=test-secret)
        echo "backend: PostgreSQL + S3 (moto)" >&2
    else
        echo "backend: SQLite + files (the embedded default)" >&2
    fi
    env "${env[@]}" "$CARGO_TARGET_DIR/release/proofsheet" serve --addr "127.0.0.1:$port" --data-dir "$data" \
        >"$data/server.log" 2>&1 &
    server=$!
    trap cleanup EXIT
    # `proofsheet admin` against this server's data (benchmarks vouch for
    # the addresses they register: only a proven address signs in).
    bench_admin "$CARGO_TARGET_DIR/release/proofsheet" "$data" "${env[@]}"
    base="http://127.0.0.1:$port"
    for _ in $(seq 1 150); do curl -sf "$base/healthz" >/dev/null && return 0; sleep 0.2; done
    echo "the server did not start:" >&2
    cat "$data/server.log" >&2
    return 1
}

cleanup() {
    if declare -F on_exit >/dev/null; then on_exit || true; fi
    kill "${server:-}" 2>/dev/null
    wait "${server:-}" 2>/dev/null || true
    rm -rf "${data:-}"
}

# `bench_admin BIN DATA [VAR=VALUE...]`: writes $DATA/admin, a command that
# runs `BIN --data-dir DATA admin ...` with those variables, and exports it
# as PROOFSHEET_BENCH_ADMIN (benches/benchlib.py and the load example use
# it to vouch for the addresses they register).
bench_admin() {
    local bin=$1 dir=$2
    shift 2
    {
        echo '#!/usr/bin/env bash'
        printf 'exec env'
        # `printf ' %q'` of no arguments prints '' (which env would run).
        if [ $# -gt 0 ]; then printf ' %q' "$@"; fi
        printf ' %q --data-dir %q admin "$@"\n' "$bin" "$dir"
    } >"$dir/admin"
    chmod +x "$dir/admin"
    export PROOFSHEET_BENCH_ADMIN="$dir/admin"
}
