#!/usr/bin/env bash
# Runs schemathesis (pinned, from PyPI) with every check against a running
# server's /api/v1/openapi.json, once as a seeded photographer and once as a
# seeded client. Exits non-zero on any failure.
#
#   bash scripts/schemathesis.sh            # builds and starts its own server
#   MAX_EXAMPLES=200 bash scripts/schemathesis.sh
#
# Rate limits are off for this run (PROOFSHEET__LIMITS__ENABLED=false): the
# fuzzer sends thousands of requests from one address, and 429 is
# documented anyway. Everything else is the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
state=/var/tmp/proofsheet-services
venv="$state/venv"
version=4.32.5
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    [ -x "$venv/bin/pip" ] || { mkdir -p "$state"; python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q "schemathesis==$version" >&2
fi
# The feature set of the test run (scripts/test.sh), so this reuses its build.
features=()
if [ -n "${PROOFSHEET_FEATURES:-}" ]; then features=(--features "$PROOFSHEET_FEATURES"); fi
cargo build -q --workspace --bin proofsheet "${features[@]}"
port="${PORT:-18181}"
data=$(mktemp -d)
# No watermark plugins are installed here: a plugin's params are its own
# language, which the document cannot state (the plugin refuses bad ones
# with 422 when they are picked), so the document offers albums only the
# text watermark. crates/server/tests/api/watermarks.rs covers plugin choices.
# "Find me" runs when the build has it and the models are installed, so the
# search's answers are checked too (the seeded album turns it on below).
if [[ "${PROOFSHEET_FEATURES:-}" == *faces* ]] && [ -n "${PROOFSHEET_FACES_MODELS_DIR:-}" ]; then
    export PROOFSHEET__FACES__MODELS_DIR="$PROOFSHEET_FACES_MODELS_DIR"
fi
PROOFSHEET__LIMITS__ENABLED=false "$CARGO_TARGET_DIR/debug/proofsheet" serve --addr "127.0.0.1:$port" --data-dir "$data" \
    >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

post() { curl -sf -X POST "$base/api/v1$1" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2"; }
token() {
    post /users "{\"email\":\"$1\",\"password\":\"correct horse\",\"name\":\"Seed\",\"surname\":\"User\",\"role\":\"$2\"}" >/dev/null
    # Only a proven address signs in with a password: the operator vouches
    # for it here (keeping the password), as the mailed link would.
    "$CARGO_TARGET_DIR/debug/proofsheet" --data-dir "$data" admin verify-email --email "$1" >&2
    post /sessions "{\"email\":\"$1\",\"password\":\"correct horse\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
ph=$(token seed-photographer@schemathesis.test photographer)
cl=$(token seed-client@schemathesis.test client)
# Seed data: an album shared with the client, one photo, a pending order.
album=$(post /albums '{"name":"Seed","visibility":"private","client_email":"seed-client@schemathesis.test","price_per_photo":{"amount":500,"currency":"EUR"}}' "$ph" | field id)
python3 - "$data/seed.png" <<'EOF'
import struct, sys, zlib
# A tiny valid PNG (the server accepts PNG as well as JPEG).
w, h = 16, 12
raw = b"".join(b"\x00" + b"".join(bytes((x * 16 % 256, y * 20 % 256, 128)) for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
photo=$(curl -sf -X POST "$base/api/v1/albums/$album/photos?filename=seed.png" -H "authorization: Bearer $ph" \
    -H 'content-type: image/png' --data-binary "@$data/seed.png" | field id)
for _ in $(seq 1 100); do
    curl -sf "$base/api/v1/albums/$album/photos" -H "authorization: Bearer $ph" | grep -q '"ready"' && break
    sleep 0.2
done
if [ -n "${PROOFSHEET__FACES__MODELS_DIR:-}" ]; then
    curl -sf -X PATCH "$base/api/v1/albums/$album" -H 'content-type: application/json' -H "authorization: Bearer $ph" \
        -d '{"find_me":true}' >/dev/null
fi
order=$(post /orders "{\"album_id\":\"$album\",\"photo_ids\":[\"$photo\"]}" "$cl" | field id)
upload=$(curl -sf -D - -o /dev/null -X POST "$base/api/v1/albums/$album/uploads" -H "authorization: Bearer $ph" \
    -H 'tus-resumable: 1.0.0' -H 'upload-length: 100000' | tr -d '\r' | sed -n 's#^location: .*/##Ip')
webhook=$(post /webhooks '{"url":"https://hooks.example.com/seed","events":["order.paid"]}' "$ph" | field id)
delivery=$(post "/webhooks/$webhook/test" '{}' "$ph" | field id)
echo "seeded: album $album, photo $photo, order $order, upload $upload, webhook $webhook, delivery $delivery" >&2

# tus chunks (`application/offset+octet-stream`) are bytes, like
# `application/octet-stream`: schemathesis is told so by a hook module.
cat >"$data/proofsheet_hooks.py" <<'EOF'
import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))
EOF
export PYTHONPATH="$data" SCHEMATHESIS_HOOKS=proofsheet_hooks

config="$data/schemathesis.toml"
cat >"$config" <<EOF
[parameters]
album_id = "$album"
photo_id = "$photo"
order_id = "$order"
upload_id = "$upload"
webhook_id = "$webhook"
delivery_id = "$delivery"

# A body over its route's size limit is refused with 413 before it is read
# (limits::body), whatever else is wrong with it: a right answer to data
# that breaks the schema too (a 1 MiB list of photo ids, say).
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

# A quote names photos, products and a coupon code in its body: ids and
# codes of the right shape that the album does not have are refused with
# 422 (unknown_photo, unknown_product, coupon_unknown), as POST /orders
# refuses unknown photos; the document cannot list an album's photos.
[[operations]]
include-path = "/api/v1/albums/{album_id}/quote"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
EOF
status=0
run() { # token log
    "$venv/bin/schemathesis" --config-file "$config" run "$base/api/v1/openapi.json" \
        -H "Authorization: Bearer $1" --checks all --max-examples "${MAX_EXAMPLES:-25}" -w 2 \
        --seed "${SEED:-20261125}" --suppress-health-check all 2>&1 | tee "$2"
    return "${PIPESTATUS[0]}"
}
for who in photographer client; do
    tok=$ph
    [ "$who" = client ] && tok=$cl
    echo "== schemathesis as the seeded $who" >&2
    log="$data/schemathesis-$who.log"
    run "$tok" "$log" && continue
    # A run whose only problem is a crash inside the tool (hypothesis, with
    # two workers, sometimes trips over Python's `ast` module: "AST
    # constructor recursion depth mismatch") says nothing about the API:
    # it is run once more. Any failed check fails at once.
    if grep -q 'Runtime Error' "$log" && ! grep -q '= FAILURES =' "$log"; then
        echo "== schemathesis crashed inside the tool, not on the API: running again" >&2
        run "$tok" "$log" && continue
    fi
    status=1
done
exit $status
