#!/usr/bin/env bash
# The same verify loop (tests/bench/verify-loop) natively, in wasmtime 48 and in Node; writes
# wasm-native.json, wasm-node.json, wasm-wasmtime.json next to $1 for report.md. wasmtime runs from tests/spin-host (its own workspace, own
# target dir: $SPIN_TARGET_DIR, default the spin gate's $HOME/.cache/aauth-target-spin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OUTFILE=${1:?usage: wasm.sh OUT_DIR/wasm.json}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ITERS=${WASM_ITERS:-2000}
PIN=(); if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=(taskset -c 0); fi

cargo build --release --locked -p aauth-verify-loop
cargo build --release --locked -p aauth-verify-loop --target wasm32-unknown-unknown --lib
WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/aauth_verify_loop.wasm"
DIR=$(dirname "$OUTFILE"); mkdir -p "$DIR"
rm -f "$DIR"/wasm-{native,node,wasmtime}.json
"${PIN[@]}" "$CARGO_TARGET_DIR/release/aauth-verify-loop" "$ITERS" > "$DIR/wasm-native.json"
if command -v node >/dev/null; then
  "${PIN[@]}" node tests/bench/wasm-node.mjs "$WASM" "$ITERS" > "$DIR/wasm-node.json"
fi
if [ "${WASM_SKIP_WASMTIME:-0}" != 1 ]; then
  ST="${SPIN_TARGET_DIR:-$HOME/.cache/aauth-target-spin}"
  (cd tests/spin-host && CARGO_TARGET_DIR="$ST" cargo build --release --locked --bin wasm-verify-bench)
  "${PIN[@]}" "$ST/release/wasm-verify-bench" "$WASM" "$ITERS" > "$DIR/wasm-wasmtime.json"
fi
cat "$DIR"/wasm-*.json
