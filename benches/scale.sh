#!/usr/bin/env bash
# Scale benchmark: PostgreSQL seeded with ALBUMS albums and PHOTOS photos,
# then p50/p99 latency of the two hot reads through the HTTP API, measured
# by wrk on loopback:
#   1. a photographer listing their albums   GET /api/v1/albums
#   2. a page of 100 photos of one album     GET /api/v1/albums/{id}/photos?limit=100
#
#   benches/scale.sh                   # full size: 10,000 albums, 1,000,000 photos (release build)
#   SCALE=0.01 PROFILE=debug benches/scale.sh   # what CI runs: 100 albums, 10,000 photos
#
# Prints the figures; writes nothing into the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-1}"
PROFILE="${PROFILE:-release}"
DURATION="${DURATION:-15}"
ALBUMS=$(python3 -c "print(max(10, int(10000 * $SCALE)))")
PHOTOS_PER_ALBUM=100
PHOTOGRAPHERS=$(( ALBUMS / 100 > 0 ? ALBUMS / 100 : 1 ))

eval "$(scripts/services.sh)"
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
if [ "$PROFILE" = release ]; then
    cargo build --release -q -p proofsheet-server
    bin="${CARGO_TARGET_DIR:-target}/release/proofsheet"
else
    # The test run's feature set (PROOFSHEET_FEATURES), so CI reuses its build.
    features=()
    if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi
    cargo build -q --workspace --bin proofsheet "${features[@]}"
    bin="${CARGO_TARGET_DIR:-target}/debug/proofsheet"
fi

db="proofsheet_bench_$$"
psql_admin() { psql -q -h 127.0.0.1 -p 55432 -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql -q -h 127.0.0.1 -p 55432 -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
psql_admin -c "CREATE DATABASE $db"
work=$(mktemp -d)
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    psql_admin -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PROOFSHEET__DATABASE__URL="postgres://postgres@127.0.0.1:55432/$db" \
PROOFSHEET__DATABASE__MAX_CONNECTIONS=16 \
PROOFSHEET__SERVER__DATA_DIR="$work" \
PROOFSHEET_LOG=warn \
    "$bin" serve --role api --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port/api/v1"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

curl -sf -XPOST "$base/users" -H 'content-type: application/json' \
    -d '{"email":"bench@studio.test","password":"correct horse","name":"B","surname":"M","role":"photographer"}' >/dev/null
# Only a proven address signs in: the operator vouches for it.
PROOFSHEET__DATABASE__URL="postgres://postgres@127.0.0.1:55432/$db" PROOFSHEET__SERVER__DATA_DIR="$work" PROOFSHEET_LOG=warn \
    "$bin" admin verify-email --email bench@studio.test >/dev/null
token=$(curl -sf -XPOST "$base/sessions" -H 'content-type: application/json' \
    -d '{"email":"bench@studio.test","password":"correct horse"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
me=$(curl -sf "$base/users/me" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "seeding $ALBUMS albums and $(( ALBUMS * PHOTOS_PER_ALBUM )) photos over $PHOTOGRAPHERS photographers..."
seed_start=$(date +%s)
psql_db <<SQL
INSERT INTO users (id, email, name, surname, role, password_hash, created_at)
SELECT gen_random_uuid()::text, 'p' || g || '@seed.test', 'P', 'S', 'photographer', '!', 0
FROM generate_series(2, $PHOTOGRAPHERS) g;
-- Our photographer owns 100 albums like everyone else.
INSERT INTO albums (id, owner_id, name, visibility, client_email, price_amount, price_currency, expires_at,
                    storage_prefix, created_at, updated_at)
SELECT gen_random_uuid()::text,
       CASE WHEN g <= 100 THEN '$me' ELSE (SELECT id FROM users WHERE email = 'p' || (2 + (g / 100) % GREATEST($PHOTOGRAPHERS - 1, 1)) || '@seed.test') END,
       'Album ' || g, CASE WHEN g % 10 = 0 THEN 'public' ELSE 'private' END, 'client' || g || '@seed.test',
       500, 'EUR', NULL, 'seed/' || g, g, g
FROM generate_series(1, $ALBUMS) g;
INSERT INTO photos (id, album_id, filename, content_type, size_bytes, status, width, height, created_at)
SELECT gen_random_uuid()::text, a.id, 'IMG_' || n || '.jpg', 'image/jpeg', 12000000, 'ready', 6000, 4000, n
FROM albums a CROSS JOIN generate_series(1, $PHOTOS_PER_ALBUM) n;
ANALYZE;
SQL
echo "seeded in $(( $(date +%s) - seed_start )) s: $(psql_db -tAc 'SELECT COUNT(*) FROM albums') albums, $(psql_db -tAc 'SELECT COUNT(*) FROM photos') photos"
album=$(psql_db -tAc "SELECT id FROM albums WHERE owner_id = '$me' ORDER BY id LIMIT 1")

echo "query plans (the statements the server runs, crates/storage/src/sql/roles/):"
albums_plan=$(psql_db -tAc "EXPLAIN SELECT * FROM albums WHERE owner_id = '$me' AND id > '' ORDER BY id LIMIT 51")
photos_plan=$(psql_db -tAc "EXPLAIN SELECT * FROM photos WHERE album_id = '$album' AND id > '' ORDER BY id LIMIT 101")
echo "$albums_plan" | head -3
echo "$photos_plan" | head -3
# The page of photos must come from its index at every size. The albums
# list too once there are enough albums for the planner to care (with a
# few hundred rows a sequential scan is rightly cheaper).
if ! echo "$photos_plan" | grep -q 'Index'; then
    echo "FAIL: the photo list does not use an index" >&2
    exit 1
fi
if [ "$ALBUMS" -ge 1000 ] && ! echo "$albums_plan" | grep -q 'Index'; then
    echo "FAIL: the album list does not use an index" >&2
    exit 1
fi

run() {
    local name=$1 url=$2
    curl -sf "$url" -H "authorization: Bearer $token" >/dev/null  # warm up, and fail loudly on an error
    local out
    out=$(wrk -t2 -c8 -d"${DURATION}s" --latency -H "authorization: Bearer $token" "$url")
    local p50 p99 rps non2xx
    p50=$(echo "$out" | awk '$1=="50%"{print $2}')
    p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    # "Non-2xx or 3xx responses: N" and "Socket errors: connect A, read B, write C, timeout D"
    non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
    socket=$(echo "$out" | awk '/Socket errors/{gsub(",", ""); print $4 + $6 + $8 + $10}')
    printf '%-34s p50 %-9s p99 %-9s %8s req/s  errors %s\n' "$name" "$p50" "$p99" "$rps" "$(( ${non2xx:-0} + ${socket:-0} ))"
    if [ "$(( ${non2xx:-0} + ${socket:-0} ))" -gt 0 ]; then
        echo "FAIL: $name had ${non2xx:-0} non-2xx answers and ${socket:-0} socket errors" >&2
        failed=1
    fi
}
failed=0
echo "latency through HTTP ($PROFILE build, wrk -t2 -c8, ${DURATION}s each):"
run "list own albums (page of 50)" "$base/albums"
run "100 photos of one album" "$base/albums/$album/photos?limit=100"
exit "$failed"
