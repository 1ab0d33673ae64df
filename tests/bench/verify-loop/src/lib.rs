//! The request verification a resource performs on every `scheme=jwt` call, and the two raw
//! Ed25519 verifications it cannot avoid, as exported functions with no imports, so the very
//! same code runs natively (`src/main.rs`), in wasmtime
//! (`tests/spin-host/src/bin/wasm-verify-bench.rs`) and in Node (`tests/bench/wasm-node.mjs`),
//! each timing [`aauth_verify_loop`] and [`aauth_raw_loop`] from the outside.
//!
//! The request, keys and raw verifications are the criterion benchmark's fixture
//! (`core/benches/fixture.rs`), so every runtime measures exactly what `cargo bench -p
//! aauth-core` does natively.
//!
//! Build: `cargo build --profile wasm-speed -p aauth-verify-loop --target wasm32-unknown-unknown --lib`.

use std::sync::OnceLock;

#[allow(dead_code, unreachable_pub, clippy::expect_used)]
#[path = "../../../../core/benches/fixture.rs"]
mod fixture;

static FIXTURE: OnceLock<fixture::Fixture> = OnceLock::new();

/// Signs the request once (not timed). Returns 1 when the fixture is ready.
#[unsafe(no_mangle)]
pub extern "C" fn aauth_setup() -> u32 {
    u32::from(
        !FIXTURE
            .get_or_init(|| fixture::fixture("jwt"))
            .raw
            .is_empty(),
    )
}

/// Fully verifies the request `iters` times (`verify_request`: header parsing, the auth
/// token's signature and claims, the request signature with its `cnf.jwk`). Returns how
/// many verifications ran (0 without [`aauth_setup`]); a failed one panics (traps in wasm).
#[unsafe(no_mangle)]
pub extern "C" fn aauth_verify_loop(iters: u32) -> u32 {
    let Some(f) = FIXTURE.get() else {
        return 0;
    };
    for _ in 0..iters {
        std::hint::black_box(f.verify());
    }
    iters
}

/// The floor of [`aauth_verify_loop`]: the same two Ed25519 verifications (request signature,
/// auth token signature) on pre-parsed keys, `iters` times. Returns `iters` (0 without
/// [`aauth_setup`]).
#[unsafe(no_mangle)]
pub extern "C" fn aauth_raw_loop(iters: u32) -> u32 {
    let Some(f) = FIXTURE.get() else {
        return 0;
    };
    for _ in 0..iters {
        f.raw();
    }
    iters
}
