#!/usr/bin/env bash
# The same verify loop (tests/bench/verify-loop) natively, in wasmtime 48 and in Node; writes
# wasm-native.json, wasm-native32.json, wasm-node.json, wasm-wasmtime.json next to $1 for
# report.md. Everything is built with the `wasm-speed` profile (what the Spin component ships).
# wasm-native32.json is the native build forced onto curve25519-dalek's portable 32-bit field
# backend, the arithmetic wasm32 gets (it has no 64x64->128 multiply): the runtime's own cost
# is wasm time / native32 time, the arithmetic's is native32 time / native time.
# Tried on 2026-12-02 and rejected (µs per full verify, wasmtime / Node, this machine):
# 32-bit backend 148 / 162 (kept); 64-bit backend (--cfg curve25519_dalek_bits="64") 587 / 464;
# fiat backend 271 / 256; +simd128 151 / 176; opt-level "s" 197 / 236.
# Tried on 2026-12-02 afternoon, another machine of the same kind (serial arithmetic ~1.6x
# slower there, IFMA the same; µs per full verify, quiet, pinned): native IFMA 45; native
# portable 32-bit 192, 64-bit 121; wasmtime 32-bit 210; wasmtime with the wide-arithmetic
# proposal (RUSTFLAGS='-C target-feature=+wide-arithmetic --cfg curve25519_dalek_bits="64"',
# WASM_WIDE=1 wasm-verify-bench) 126 = 1.04x the native 64-bit backend, 2.8x native IFMA.
# So the runtime adds ~5 %; the gap is vector (IFMA/AVX2) vs scalar field arithmetic. Not
# shipped: Spin's runtime and Node 20 refuse modules that use wide-arithmetic. wasmtime runs from tests/spin-host (its own workspace, own
# target dir: $SPIN_TARGET_DIR, default the spin gate's $HOME/.cache/aauth-target-spin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OUTFILE=${1:?usage: wasm.sh OUT_DIR/wasm.json}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ITERS=${WASM_ITERS:-2000}
PIN=(); if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=(taskset -c 0); fi

PROFILE=(--profile wasm-speed --locked -p aauth-verify-loop)
cargo build "${PROFILE[@]}"
cargo build "${PROFILE[@]}" --target wasm32-unknown-unknown --lib
# Own target dir: different RUSTFLAGS would otherwise rebuild the main cache each time.
NATIVE32_DIR="$CARGO_TARGET_DIR/native32"
CARGO_TARGET_DIR="$NATIVE32_DIR" \
  RUSTFLAGS='--cfg curve25519_dalek_bits="32" --cfg curve25519_dalek_backend="serial"' \
  cargo build "${PROFILE[@]}"
WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-speed/aauth_verify_loop.wasm"
DIR=$(dirname "$OUTFILE"); mkdir -p "$DIR"
rm -f "$DIR"/wasm-{native,native32,node,wasmtime}.json
"${PIN[@]}" "$CARGO_TARGET_DIR/wasm-speed/aauth-verify-loop" "$ITERS" > "$DIR/wasm-native.json"
"${PIN[@]}" "$NATIVE32_DIR/wasm-speed/aauth-verify-loop" "$ITERS" native32 > "$DIR/wasm-native32.json"
if command -v node >/dev/null; then
  "${PIN[@]}" node tests/bench/wasm-node.mjs "$WASM" "$ITERS" > "$DIR/wasm-node.json"
fi
if [ "${WASM_SKIP_WASMTIME:-0}" != 1 ]; then
  ST="${SPIN_TARGET_DIR:-$HOME/.cache/aauth-target-spin}"
  # tests/spin-host builds `release` at opt-level 1 (its Cargo.toml): the timed loop runs inside
  # the module, machine code Cranelift emits the same whatever Cranelift was built with.
  (cd tests/spin-host && CARGO_TARGET_DIR="$ST" cargo build --release --locked --bin wasm-verify-bench)
  "${PIN[@]}" "$ST/release/wasm-verify-bench" "$WASM" "$ITERS" > "$DIR/wasm-wasmtime.json"
fi
cat "$DIR"/wasm-*.json
