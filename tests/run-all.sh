#!/usr/bin/env bash
# The whole test suite, from a fresh machine (rustup + cargo + node/npm + python3).
# Installs what it needs (rustup targets, pinned cargo tools), idempotently, then runs
# small named gates. Build output is cached outside the clone (CARGO_TARGET_DIR).
#
#   bash tests/run-all.sh            # everything
#   GATES="fmt test" bash tests/run-all.sh   # a subset, by gate name
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/aauth-target}
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0
export PATH="$HOME/.cargo/bin:$PATH"
CARGO_FUZZ_VERSION=0.13.1
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
GATES=${GATES:-"setup fmt clippy test doc nostd wasm spin fuzz"}

declare -a SUMMARY=()
gate() { # name command...
  local name=$1; shift
  case " $GATES " in *" $name "*) ;; *) return 0 ;; esac
  local t0=$SECONDS
  echo "=== gate: $name"
  "$@"
  SUMMARY+=("$name: ok ($((SECONDS - t0)) s)")
}

setup() {
  rustup target add x86_64-unknown-none wasm32-unknown-unknown wasm32-wasip2 >/dev/null
  rustup component add clippy rustfmt >/dev/null
  if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  # Debian packages the tests start themselves, only when missing: PostgreSQL (scale-out
  # auth server tests, a throwaway cluster), nginx (behind-a-proxy test), chromium (the npm
  # package's browser test; playwright-core drives it and never downloads a browser).
  local want=()
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || want+=(postgresql)
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || want+=(nginx)
  [ -x /usr/bin/chromium ] || want+=(chromium)
  apt_install "${want[@]}"
}

# apt-get install PKG..., as root or through sudo -n, refreshing the index once if needed.
apt_install() {
  [ $# -gt 0 ] || return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get)
  "${apt[@]}" install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
  }
}

fmt() { cargo fmt --all -- --check; }

clippy() {
  cargo clippy --workspace --all-targets --locked -- -D warnings
  # Per feature set of the core, so unification cannot hide a broken combination.
  cargo clippy -p aauth-core --no-default-features --locked -- -D warnings
  cargo clippy -p aauth-core --no-default-features --features std --locked -- -D warnings
  cargo clippy -p aauth-wasm --target wasm32-unknown-unknown --locked -- -D warnings
  cargo clippy -p aauth-wasm --target wasm32-unknown-unknown --all-features --locked -- -D warnings
}

test_() { cargo test --workspace --locked; }

doc() { RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked; }

nostd() {
  cargo build -p aauth-core --no-default-features --target x86_64-unknown-none --locked
  cargo build -p aauth-core --no-default-features --target wasm32-unknown-unknown --locked
  cargo build -p aauth-core --target wasm32-unknown-unknown --locked
  # No OS randomness in the core, on any target (STYLE 2; PLATFORM §2.2).
  if cargo tree -p aauth-core --target wasm32-unknown-unknown -e normal | grep -q getrandom; then
    echo "aauth-core depends on getrandom"; exit 1
  fi
}

# The npm package: wasm build, wasm-bindgen (installed at the lockfile's version), wasm-opt
# and playwright-core from npm, then node:test (shared vectors, API, loopback e2e against the
# native servers, the browser test in headless chromium). Each test has a timeout, so a hung
# fixture or browser fails the gate instead of stalling it.
wasm() {
  bash bindings/wasm/build.sh
  node --test --test-timeout=180000 bindings/wasm/test/
}

# The Spin component (wasm32-wasip2, WASIp3) and its in-process wasmtime 48 host tests.
# Both are separate workspaces (wasmtime must not enter the main build), so they keep their
# own build cache.
spin() {
  CARGO_TARGET_DIR="${SPIN_TARGET_DIR:-$HOME/.cache/aauth-target-spin}" bash hosts/spin/test.sh
}

fuzz() {
  cd "$ROOT/tests/fuzz"
  local targets
  targets=$(cargo +nightly fuzz list)
  cargo +nightly fuzz build -O >/dev/null
  for t in $targets; do
    echo "--- fuzz smoke: $t (${FUZZ_SECONDS}s)"
    cargo +nightly fuzz run -O "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 2
  done
  cd "$ROOT"
}

gate setup setup
gate fmt fmt
gate clippy clippy
gate test test_
gate doc doc
gate nostd nostd
gate wasm wasm
gate spin spin
gate fuzz fuzz

echo
echo "=== summary"
printf '%s\n' "${SUMMARY[@]}"
