//! Times the `aauth-verify-loop` wasm module (no imports) under wasmtime, like its native
//! binary does: `wasm-verify-bench path/to/aauth_verify_loop.wasm [iters]` prints
//! `{"wasmtime_us": …}`, mean microseconds per verification, best of five batches.
//! Used by `tests/bench/wasm.sh`.

use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use wasmtime::{Engine, Instance, Module, Store};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .context("usage: wasm-verify-bench FILE.wasm [iters]")?;
    let iters: u32 = args.next().map_or(Ok(2000), |a| a.parse())?;
    let engine = Engine::default();
    let module = Module::from_file(&engine, &file)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let setup = instance.get_typed_func::<(), u32>(&mut store, "aauth_setup")?;
    let verify = instance.get_typed_func::<u32, u32>(&mut store, "aauth_verify_loop")?;
    ensure!(setup.call(&mut store, ())? == 1, "fixture");
    ensure!(
        verify.call(&mut store, iters / 10)? == iters / 10,
        "warm-up"
    );
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        ensure!(verify.call(&mut store, iters)? == iters, "verify");
        best = best.min(t0.elapsed().as_secs_f64() * 1e6 / f64::from(iters));
    }
    println!("{{\"wasmtime_us\": {best:.2}}}");
    Ok(())
}
