#!/usr/bin/env bash
# Builds the npm package into bindings/wasm/pkg/ and the native e2e fixture.
# Idempotent: installs wasm-bindgen-cli (the lockfile's version, from crates.io) and the
# pinned devDependencies (binaryen@132 for wasm-opt, playwright-core for the browser test)
# only when missing.
#   AAUTH_WASM_OPT=0   skip wasm-opt
#   AAUTH_WASM_FEATURES="rsa,p256"  build with RS256/PS256/ES256 token verification
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

WB="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)"
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WB" ]; then
  echo "installing wasm-bindgen-cli $WB" >&2
  cargo install wasm-bindgen-cli --version "$WB"   # not --locked: its lockfile pins a yanked crate
fi

if [ ! -x "$HERE/node_modules/.bin/wasm-opt" ] || [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

FEATURES=()
if [ -n "${AAUTH_WASM_FEATURES:-}" ]; then FEATURES=(--features "$AAUTH_WASM_FEATURES"); fi
cargo build -p aauth-wasm --target wasm32-unknown-unknown --profile wasm-release "${FEATURES[@]}"
WASM="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/aauth_wasm.wasm"

PKG="$HERE/pkg"
rm -rf "$PKG"
mkdir -p "$PKG"
wasm-bindgen --target web --out-dir "$PKG" --out-name aauth_wasm "$WASM"
raw_bindgen=$(stat -c %s "$PKG/aauth_wasm_bg.wasm")
gz_bindgen=$(gzip -9 -c "$PKG/aauth_wasm_bg.wasm" | wc -c)
if [ "${AAUTH_WASM_OPT:-1}" != "0" ]; then
  # Explicit feature list: never --all-features (typed function references break node 20).
  "$HERE/node_modules/.bin/wasm-opt" -Oz \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "$PKG/aauth_wasm_bg.wasm" -o "$PKG/aauth_wasm_bg.wasm"
fi
cp "$HERE/js/index.js" "$HERE/js/index.d.ts" "$HERE/README.md" "$PKG/"
node -e '
const p = require(process.argv[1]);
delete p.devDependencies; delete p.scripts; delete p.private;
require("fs").writeFileSync(process.argv[2], JSON.stringify(p, null, 2) + "\n");
' "$HERE/package.json" "$PKG/package.json"
rm -f "$PKG/.gitignore"

raw=$(stat -c %s "$PKG/aauth_wasm_bg.wasm")
gz=$(gzip -9 -c "$PKG/aauth_wasm_bg.wasm" | wc -c)
printf '{"cargo":%s,"bindgen":%s,"bindgenGzip":%s,"raw":%s,"gzip":%s}\n' \
  "$(stat -c %s "$WASM")" "$raw_bindgen" "$gz_bindgen" "$raw" "$gz" > "$HERE/pkg-size.json"
echo "aauth_wasm_bg.wasm: cargo $(stat -c %s "$WASM") B, bindgen $raw_bindgen B / $gz_bindgen B gzip, final $raw B raw / $gz B gzip" >&2

# Native fixture for test/e2e.test.mjs (dev profile: it only serves a handful of requests).
cargo build -p aauth-wasm-e2e
