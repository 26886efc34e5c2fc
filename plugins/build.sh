#!/usr/bin/env bash
# Builds the example watermark plugins to plugins/build/*.wasm with Debian's
# rustc and its wasm32 standard library (installed here if missing: no
# rustup target, nothing from outside the package registries).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/wasm32-unknown-unknown ] || ! command -v rust-lld >/dev/null; then
    echo "installing Debian rustc, libstd-rust-dev-wasm32 and lld" >&2
    pkgs="rustc libstd-rust-dev-wasm32 lld"
    # A fresh machine may have no package lists yet: update once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs >/dev/null; }
fi
mkdir -p build
for dir in */; do
    name=${dir%/}
    [ -f "$name/plugin.rs" ] || continue
    /usr/bin/rustc --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=3 -C panic=abort -C lto -C strip=symbols \
        --edition 2021 -o "build/$name.wasm" "$name/plugin.rs"
    echo "built plugins/build/$name.wasm ($(stat -c %s "build/$name.wasm") bytes)" >&2
done
