//! Runs one side of the verification benchmark N times, for instruction counting:
//!
//! ```sh
//! cargo build --release -p aauth-core --example verify_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     $CARGO_TARGET_DIR/release/examples/verify_cost full jwt 200
//! # and: setup, raw, raw-decode, raw-shared; with the auth token remembered (jwt): cached vs raw1
//! ```
//!
//! Instruction counts do not depend on what else the machine is doing, so the ratio of
//! `full` to `raw` is reproducible on a loaded machine where wall-clock timings are not.

#[path = "../benches/fixture.rs"]
#[allow(dead_code, unreachable_pub)]
mod fixture;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, scheme, n) = match args.as_slice() {
        [_, mode, scheme, n] => (mode.as_str(), scheme.as_str(), n.parse().unwrap_or(100)),
        _ => {
            eprintln!(
                "usage: verify_cost setup|raw|raw1|raw-decode|raw-shared|full|cached jwt|jwks N"
            );
            std::process::exit(2);
        }
    };
    let f = fixture::fixture(scheme);
    // `cached`: the token is remembered before counting starts (part of `setup` too).
    let cache = fixture::OneToken::default();
    if scheme == "jwt" {
        f.verify_cached(&cache);
    }
    for _ in 0..n {
        match mode {
            "raw" => f.raw(),
            "raw-decode" => f.raw_with_key_decode(),
            "raw-shared" => f.raw_shared_inversion(),
            "raw1" => f.raw_first(),
            "full" => {
                std::hint::black_box(f.verify());
            }
            "cached" => {
                std::hint::black_box(f.verify_cached(&cache));
            }
            _ => {}
        }
    }
}
