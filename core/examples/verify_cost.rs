//! Runs one side of the verification benchmark N times, for instruction counting:
//!
//! ```sh
//! cargo build --release -p aauth-core --example verify_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     $CARGO_TARGET_DIR/release/examples/verify_cost full jwt 200   # and: setup, raw, raw-decode
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
            eprintln!("usage: verify_cost setup|raw|raw-decode|full jwt|jwks N");
            std::process::exit(2);
        }
    };
    let f = fixture::fixture(scheme);
    for _ in 0..n {
        match mode {
            "raw" => f.raw(),
            "raw-decode" => f.raw_with_key_decode(),
            "full" => {
                std::hint::black_box(f.verify());
            }
            _ => {}
        }
    }
}
