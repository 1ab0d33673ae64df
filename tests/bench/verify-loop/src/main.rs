//! Native timing of [`aauth_verify_loop::aauth_verify_loop`] and
//! [`aauth_verify_loop::aauth_raw_loop`]: `aauth-verify-loop [iters] [label]` prints
//! `{"<label>_us": …, "<label>_raw_us": …, "<label>_backend": …}` (label default `native`),
//! the mean microseconds per verification over the best of five batches, and the field
//! arithmetic curve25519-dalek runs in this build on this CPU.

use std::time::Instant;

use aauth_verify_loop::{aauth_raw_loop, aauth_setup, aauth_verify_loop};

/// Mean microseconds per call of `run`, best of five batches of `iters`.
fn best_of_five(run: extern "C" fn(u32) -> u32, iters: u32) -> f64 {
    assert_eq!(run(iters / 10), iters / 10, "warm-up");
    (0..5)
        .map(|_| {
            let t0 = Instant::now();
            assert_eq!(run(iters), iters, "loop");
            t0.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The field arithmetic curve25519-dalek picks at run time here: its vector backends are
/// compiled in per `curve25519_dalek_backend` / `curve25519_dalek_bits` (set for every crate
/// by `.cargo/config.toml` or RUSTFLAGS) and chosen by CPU feature.
#[allow(unexpected_cfgs)]
fn backend() -> &'static str {
    if cfg!(curve25519_dalek_backend = "serial") || cfg!(curve25519_dalek_bits = "32") {
        return "portable";
    }
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(curve25519_dalek_backend = "avx512")
            && std::is_x86_feature_detected!("avx512ifma")
            && std::is_x86_feature_detected!("avx512vl")
        {
            return "AVX-512 IFMA";
        }
        if std::is_x86_feature_detected!("avx2") {
            return "AVX2";
        }
    }
    "portable"
}

fn main() {
    assert_eq!(aauth_setup(), 1, "fixture");
    let mut args = std::env::args().skip(1);
    let iters: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let label = args.next().unwrap_or_else(|| "native".into());
    let full = best_of_five(aauth_verify_loop, iters);
    let raw = best_of_five(aauth_raw_loop, iters);
    let backend = backend();
    println!(
        "{{\"{label}_us\": {full:.2}, \"{label}_raw_us\": {raw:.2}, \"{label}_backend\": \"{backend}\"}}"
    );
}
