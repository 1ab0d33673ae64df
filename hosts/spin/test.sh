#!/usr/bin/env bash
# Build, lint and test the Spin component and its wasmtime host tests (the `spin` gate).
# The Python-agent test runs ../shared/interop/python-ref/setup.sh itself (idempotent);
# AAUTH_SKIP_PYTHON=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aauth-target-spin}"
rustup target add wasm32-wasip2
cargo fmt --check --manifest-path hosts/spin/Cargo.toml
cargo fmt --check --manifest-path tests/spin-host/Cargo.toml
cargo clippy --target wasm32-wasip2 --release --manifest-path hosts/spin/Cargo.toml -- -D warnings
# The Spin build (spin.toml's build command) adds Spin's variables and key-value interfaces.
cargo clippy --target wasm32-wasip2 --release --features spin --manifest-path hosts/spin/Cargo.toml -- -D warnings
cargo build --target wasm32-wasip2 --release --manifest-path hosts/spin/Cargo.toml
ls -l "$CARGO_TARGET_DIR/wasm32-wasip2/release/aauth_spin.wasm"
cargo test --release --lib --manifest-path hosts/spin/Cargo.toml
cargo test --release --manifest-path tests/spin-host/Cargo.toml -- --nocapture
# The benchmark must keep compiling; run it by hand (hosts/spin/README.md, Performance).
cargo build --release --benches --manifest-path tests/spin-host/Cargo.toml
