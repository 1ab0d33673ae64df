#!/usr/bin/env bash
# Build, lint and test the Spin component and its wasmtime host tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aauth-target-spin}"
rustup target add wasm32-wasip2
cargo fmt --check --manifest-path hosts/spin/Cargo.toml
cargo clippy --target wasm32-wasip2 --release --manifest-path hosts/spin/Cargo.toml -- -D warnings
cargo build --target wasm32-wasip2 --release --manifest-path hosts/spin/Cargo.toml
ls -l "$CARGO_TARGET_DIR/wasm32-wasip2/release/aauth_spin.wasm"
cargo test --release --lib --manifest-path hosts/spin/Cargo.toml
cargo test --release --manifest-path tests/spin-host/Cargo.toml -- --nocapture
