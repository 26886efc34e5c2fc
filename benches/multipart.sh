#!/usr/bin/env bash
# Memory of one `proofsheet serve` under issue 27's multipart attacks,
# beside benches/hostile.sh: 40 connections, each from its own loopback
# address, trickle a multipart selfie that never sends its boundary to
# /api/v1/albums/{any id}/find-me (no account needed), then 20 connections
# of one photographer do the same to their own album's /photos. Prints the
# server's RSS before, its peak during, the growth, and how /healthz
# answered meanwhile (benches/multipart_attack.py).
#
#   bash benches/multipart.sh                      # release build of this tree
#   PROFILE=debug bash benches/multipart.sh
#   BIN=/path/to/an/older/proofsheet bash benches/multipart.sh   # compare a build
#   CONNS=40 UPLOADS=20 BURST_KIB=14336 UPLOAD_MIB=64 HOLD=20 bash benches/multipart.sh
#
# Target (issue 27): growth under 64 MiB with /healthz answering throughout.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${BIN:-}" ]; then
    flag=$([ "$PROFILE" = release ] && echo --release || true)
    features=()
    if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi
    cargo build -q $flag --workspace --bin proofsheet "${features[@]}"
    BIN="$CARGO_TARGET_DIR/$PROFILE/proofsheet"
fi
state=/var/tmp/proofsheet-services
venv="$state/venv"
[ -x "$venv/bin/pip" ] || { mkdir -p "$state"; python3 -m venv "$venv"; }
"$venv/bin/python" -c 'import requests' 2>/dev/null || "$venv/bin/pip" install -q requests >&2

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The attack is the point: the per-IP rate limits stay on, as shipped.
PROOFSHEET_LOG=warn "$BIN" serve --addr "127.0.0.1:$port" --data-dir "$data" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
curl -sf -XPOST "$base/api/v1/users" -H 'content-type: application/json' \
    -d '{"email":"ph@attack.test","password":"correct horse","name":"Ann","surname":"Lee","role":"photographer"}' >/dev/null
# Only a proven address signs in (an older build ignores this and signs in anyway).
"$BIN" --data-dir "$data" admin verify-email --email ph@attack.test >/dev/null 2>&1 || true
token=$(curl -sf -XPOST "$base/api/v1/sessions" -H 'content-type: application/json' \
    -d '{"email":"ph@attack.test","password":"correct horse"}' | json token)
album=$(curl -sf -XPOST "$base/api/v1/albums" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name":"Target","visibility":"public","price_per_photo":{"amount":500,"currency":"EUR"}}' | json id)

echo "server: $BIN"
PROOFSHEET_URL="$base" SERVER_PID="$server" TOKEN="$token" ALBUM="$album" "$venv/bin/python" benches/multipart_attack.py
