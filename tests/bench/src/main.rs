//! `aauth-bench`: the measurements behind `tests/bench/REPORT.md`. Run them all with
//! `bash tests/bench/run.sh`; the subcommands are its building blocks:
//!
//! - `serve --mode plain|aauth|aauth-nocache|issuer`: an axum resource on loopback
//!   (`GET /data`) without the AAuth layer, with it, or with it and the verified-token cache
//!   off, plus an in-process auth server publishing its metadata and JWKS; or (`issuer`)
//!   the real auth server with the agent and resource it needs. Prints its URLs as one
//!   JSON line and exits when its standard input closes.
//! - `e2e [--seconds S] [--concurrency C] [--long-rounds R] [--server-cpu N] [--pyref DIR [--python PY]]`: starts
//!   each `serve` mode as a child process (pinned to CPU N with `taskset` when given),
//!   drives it from this process with a bounded load, and prints one JSON document.
//!   With `--pyref DIR [--python PY]`, also the Python reference resource
//!   (`DIR/peers/resource.py`, run by `PY`) under the same load, its auth server's
//!   metadata and JWKS served from this process.
//! - `token [--seconds S] [--concurrency C] [--requests N] [--server-cpu N]`: the auth
//!   server's `POST /agent/token` (autonomous `request_type=auth`) in a child
//!   `serve --mode issuer` process (`aauth-issuer` on a temporary SQLite file), driven
//!   with a bounded load; prints one JSON document.
//! - `mem`: heap bytes per remembered token and per cached key set, counted by this
//!   binary's allocator.
//! - `report DIR`: renders `DIR/*.json` into `DIR/report.md` and `DIR/throughput.svg`.

#![forbid(unsafe_op_in_unsafe_fn)]

mod alloc_count;
mod e2e;
mod fixture;
mod load;
mod mem;
mod pyref;
mod report;
mod serve;
mod token;

use std::process::ExitCode;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let server_cpu = args
        .iter()
        .position(|a| a == "--server-cpu")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let result = match args.first().map(String::as_str) {
        Some("serve") => {
            let mode = args
                .iter()
                .position(|a| a == "--mode")
                .and_then(|i| args.get(i + 1))
                .map_or("aauth", String::as_str);
            serve::run(mode)
        }
        Some("e2e") => e2e::run(&e2e::Plan {
            seconds: flag("--seconds", 5),
            concurrency: flag("--concurrency", 16) as usize,
            long_rounds: flag("--long-rounds", 6) as usize,
            server_cpu,
            pyref: value("--pyref").map(|dir| {
                aauth_pyref_peers::Harness::new(
                    dir,
                    value("--python").map_or("python3", String::as_str),
                )
            }),
        }),
        Some("token") => token::run(&token::Plan {
            seconds: flag("--seconds", 5),
            concurrency: flag("--concurrency", 16) as usize,
            max_requests: flag("--requests", u64::MAX),
            server_cpu,
        }),
        Some("mem") => mem::run(),
        Some("report") => match args.get(1) {
            Some(dir) => report::run(dir.as_ref()),
            None => Err("usage: aauth-bench report DIR".into()),
        },
        _ => Err("usage: aauth-bench serve|e2e|token|mem|report (see tests/bench/run.sh)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aauth-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The error type of the subcommands: a message for the operator.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
