#!/usr/bin/env bash
# "Find me" speed, both halves (issue 15):
# - indexing: photos per second on one core, fitted in the gallery's
#   2048 px preview (and 1024 px beside it), with dlib's detector and
#   embedding: `cargo bench -p proofsheet-imaging --features faces --bench faces`;
# - search: latency in an album of PHOTOS (5,000) indexed photos, without the
#   selfie's own detection, on SQLite and on PostgreSQL in one run
#   (crates/server/examples/find_me_search.rs).
#
#   bash benches/find_me.sh                  # both
#   INDEX=0 bash benches/find_me.sh          # the search only (no dlib needed)
#   PHOTOS=20000 SEARCHES=100 bash benches/find_me.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PHOTOS="${PHOTOS:-5000}"
SEARCHES="${SEARCHES:-50}"
INDEX="${INDEX:-1}"

eval "$(scripts/services.sh)"
echo "== search: $PHOTOS indexed photos, $SEARCHES searches (release build)"
cargo build -q --release --workspace --example find_me_search
"$CARGO_TARGET_DIR/release/examples/find_me_search" "$PHOTOS" "$SEARCHES"
if [ "$INDEX" = 1 ]; then
    eval "$(bash scripts/faces-models.sh)"
    echo "== indexing: cargo bench -p proofsheet-imaging --features faces --bench faces"
    cargo bench -q -p proofsheet-imaging --features faces --bench faces 2>&1 | grep -E 'faces/|time:|thrpt:'
fi
