#!/usr/bin/env bash
# Peak memory of one `proofsheet serve` under hostile input, side by side:
#
# 1. Pixel bombs that are within the limits: two PNGs of 10000 x 10000 px
#    (about 0.3 MB each on disk, 100 megapixels each decoded) uploaded at
#    once, rendered with the render budget off (BEFORE_MP, default 100000
#    megapixels: as before the budget existed) and with the default budget
#    (AFTER_MP, 150). Prints the server's peak RSS (VmHWM) for each.
# 2. Oversized bodies: a 1 GiB POST to the test gateway's webhook and a
#    300 MB POST to /sessions, unauthenticated. Prints the status each got
#    and the peak RSS before and after (the limits refuse them at 1 MiB and
#    64 KiB while streaming, so the peak should not move).
#
#   bash benches/hostile.sh                 # release build
#   PROFILE=debug bash benches/hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
BEFORE_MP="${BEFORE_MP:-100000}"
AFTER_MP="${AFTER_MP:-150}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
flag=$([ "$PROFILE" = release ] && echo --release || true)
cargo build -q $flag -p proofsheet-server --bin proofsheet
bin="$CARGO_TARGET_DIR/$PROFILE/proofsheet"
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# A 10000 x 10000 RGB PNG: rows of a gradient, deflated as they are made.
python3 - "$work/bomb.png" <<'EOF'
import struct, sys, zlib
w = h = 10000
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
z = zlib.compressobj(9)
parts = []
row = bytes(range(256)) * (w * 3 // 256) + bytes(w * 3 % 256)
for y in range(h):
    parts.append(z.compress(b"\x00" + row))
parts.append(z.flush())
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
    f.write(chunk(b"IDAT", b"".join(parts)))
    f.write(chunk(b"IEND", b""))
EOF

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hwm() { awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$pid/status"; }

# Starts a server with render budget $1 (megapixels); sets pid and base.
start() {
    local p
    p=$(port)
    data="$work/data-$1"
    PROOFSHEET__WORKER__RENDER_BUDGET_MEGAPIXELS="$1" PROOFSHEET_LOG=warn \
        "$bin" serve --addr "127.0.0.1:$p" --data-dir "$data" >"$work/server-$1.log" 2>&1 &
    pid=$!
    base="http://127.0.0.1:$p/api/v1"
    for _ in $(seq 1 100); do
        curl -sf "${base%/api/v1}/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server did not start" >&2
    cat "$work/server-$1.log" >&2
    exit 1
}

stop() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

photographer() {
    curl -sf -XPOST "$base/users" -H 'content-type: application/json' \
        -d '{"email":"ph@bench.test","password":"correct horse","name":"Ann","surname":"Lee","role":"photographer"}' >/dev/null
    "$bin" --data-dir "$data" admin verify-email --email ph@bench.test >/dev/null
    token=$(curl -sf -XPOST "$base/sessions" -H 'content-type: application/json' \
        -d '{"email":"ph@bench.test","password":"correct horse"}' | json token)
}

printf '%-34s %12s %14s\n' case "peak RSS" "time"
for mp in "$BEFORE_MP" "$AFTER_MP"; do
    start "$mp"
    photographer
    album=$(curl -sf -XPOST "$base/albums" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name":"Bombs","visibility":"public","price_per_photo":{"amount":500,"currency":"EUR"}}' | json id)
    t0=$(date +%s.%N)
    for i in 1 2; do
        curl -sf -XPOST "$base/albums/$album/photos?filename=bomb$i.png" -H "authorization: Bearer $token" \
            -H 'content-type: image/png' --data-binary "@$work/bomb.png" >/dev/null &
    done
    wait %2 %3 2>/dev/null || wait
    for _ in $(seq 1 600); do
        ready=$(curl -sf "$base/albums/$album/photos" -H "authorization: Bearer $token" |
            python3 -c 'import json,sys; print(sum(p["status"] != "processing" for p in json.load(sys.stdin)["items"]))')
        [ "$ready" = 2 ] && break
        sleep 0.5
    done
    [ "$ready" = 2 ] || { echo "renders did not finish" >&2; exit 1; }
    statuses=$(curl -sf "$base/albums/$album/photos" -H "authorization: Bearer $token" |
        python3 -c 'import json,sys; print(",".join(sorted(p["status"] for p in json.load(sys.stdin)["items"])))')
    [ "$statuses" = "ready,ready" ] || { echo "renders failed: $statuses" >&2; exit 1; }
    took=$(python3 -c "import time; print(f'{time.time() - $t0:.1f} s')")
    printf '%-34s %12s %14s\n' "two 100 MP PNGs, budget $mp MP" "$(hwm)" "$took"
    stop
done

start "$AFTER_MP"
before=$(hwm)
code_webhook=$(head -c 1073741824 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -XPOST \
    "$base/payments/test/webhook" -H 'content-type: application/json' -H 'Expect:' -T - || true)
code_sessions=$(head -c 314572800 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -XPOST \
    "$base/sessions" -H 'content-type: application/json' -H 'Expect:' -T - || true)
healthy=$(curl -s -o /dev/null -w '%{http_code}' "${base%/api/v1}/healthz")
printf '%-34s %12s\n' "idle server" "$before"
printf '%-34s %12s %14s\n' "1 GiB webhook ($code_webhook), 300 MB sign-in ($code_sessions)" "$(hwm)" "healthz $healthy"
stop
