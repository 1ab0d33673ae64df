//! Native timing of [`aauth_verify_loop::aauth_verify_loop`]: prints `{"native_us": …}`,
//! the mean microseconds per verification over the best of five batches.

use std::time::Instant;

use aauth_verify_loop::{aauth_setup, aauth_verify_loop};

fn main() {
    assert_eq!(aauth_setup(), 1, "fixture");
    let iters: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    assert_eq!(aauth_verify_loop(iters / 10), iters / 10, "warm-up");
    let best = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            assert_eq!(aauth_verify_loop(iters), iters, "verify");
            t0.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{{\"native_us\": {best:.2}}}");
}
