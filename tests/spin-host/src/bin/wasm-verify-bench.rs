//! Times the `aauth-verify-loop` wasm module (no imports) under wasmtime, like its native
//! binary does: `wasm-verify-bench path/to/aauth_verify_loop.wasm [iters]` prints
//! `{"wasmtime_us": …, "wasmtime_raw_us": …}`, mean microseconds per full verification and per
//! pair of raw Ed25519 verifications, best of five batches each. Used by `tests/bench/wasm.sh`.
//! With `WASM_WIDE` set, wasmtime accepts the wide-arithmetic proposal (`i64.mul_wide_u`),
//! for a module built with `-C target-feature=+wide-arithmetic` (see that script's header).

use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use wasmtime::{Config, Engine, Instance, Module, Store, TypedFunc};

/// Mean microseconds per call of `run`, best of five batches of `iters`.
fn best_of_five(store: &mut Store<()>, run: &TypedFunc<u32, u32>, iters: u32) -> Result<f64> {
    ensure!(run.call(&mut *store, iters / 10)? == iters / 10, "warm-up");
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        ensure!(run.call(&mut *store, iters)? == iters, "loop");
        best = best.min(t0.elapsed().as_secs_f64() * 1e6 / f64::from(iters));
    }
    Ok(best)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .context("usage: wasm-verify-bench FILE.wasm [iters]")?;
    let iters: u32 = args.next().map_or(Ok(2000), |a| a.parse())?;
    let mut config = Config::new();
    if std::env::var_os("WASM_WIDE").is_some() {
        config.wasm_wide_arithmetic(true);
    }
    let engine = Engine::new(&config)?;
    let module = Module::from_file(&engine, &file)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let setup = instance.get_typed_func::<(), u32>(&mut store, "aauth_setup")?;
    let full = instance.get_typed_func::<u32, u32>(&mut store, "aauth_verify_loop")?;
    let raw = instance.get_typed_func::<u32, u32>(&mut store, "aauth_raw_loop")?;
    ensure!(setup.call(&mut store, ())? == 1, "fixture");
    let full_us = best_of_five(&mut store, &full, iters)?;
    let raw_us = best_of_five(&mut store, &raw, iters)?;
    println!("{{\"wasmtime_us\": {full_us:.2}, \"wasmtime_raw_us\": {raw_us:.2}}}");
    Ok(())
}
