//! `e2e`: the axum resource end to end, with and without the AAuth layer, in one run.
//!
//! Each mode runs in a child `serve` process, pinned with `taskset` to `--server-cpu` when
//! given; this process, the client, should itself be pinned to another CPU by the caller
//! (`run.sh` runs `taskset -c 1 aauth-bench e2e --server-cpu 0` on two CPUs or more). Requests are signed before the
//! clock starts (one signature per distinct request, replayed within the 60 s `created`
//! window), so the client spends no time on Ed25519 while the server verifies everything.
//!
//! With `--pyref DIR [--python PY]`, the Python reference resource is measured right after
//! the axum modes with the same client, connections, seconds and kind of request (see
//! [`crate::pyref`]); a Python measurement that fails (it does not start, or its requests
//! are not granted) is reported in the JSON and then fails the command.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use aauth_core::UnixTime;
use aauth_http::DEFAULT_TOKEN_CACHE_CAPACITY;
use aauth_pyref_peers::Harness;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::Error;
use crate::fixture::{Signed, auth_token, sign_get};
use crate::load::{self, Spec};
use crate::pyref;

/// The knobs of a run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Measured seconds per mode (and per round of the long run); at most 50, so that every
    /// pre-signed request stays within the 60 s `created` window.
    pub(crate) seconds: u64,
    /// Connections, each with one request in flight.
    pub(crate) concurrency: usize,
    /// Rounds of the long run (distinct tokens, twice the cache's capacity).
    pub(crate) long_rounds: usize,
    /// The CPU to pin each server to with `taskset` (`run.sh` passes 0 and pins this
    /// process, the client, to CPU 1); `None` leaves the scheduler to place it. A child
    /// inherits this process's affinity, so without it server and client share the CPUs
    /// the client was given.
    pub(crate) server_cpu: Option<u32>,
    /// The Python reference resource to measure too (`None`: not measured).
    pub(crate) pyref: Option<Harness>,
}

/// Distinct signed requests replayed per mode when the token repeats.
const VARIANTS: usize = 256;

pub(crate) fn run(plan: &Plan) -> Result<(), Error> {
    let out = load::print_measured(plan.seconds, all(plan))?;
    for (key, _, _) in pyref::CONFIGS {
        if let Some(why) = out[key]["failed"].as_str() {
            return Err(format!("the Python reference resource ({key}) failed: {why}").into());
        }
    }
    Ok(())
}

async fn all(plan: &Plan) -> Result<Value, Error> {
    let mut out = json!({
        "plan": {
            "seconds": plan.seconds,
            "concurrency": plan.concurrency,
            "server_cpu": plan.server_cpu,
            "signatures": "pre-signed before the clock starts; one token repeated, 256 distinct signed requests cycled",
        }
    });
    for (name, mode) in [
        ("plain", "plain"),
        ("aauth_cached", "aauth"),
        ("aauth_nocache", "aauth-nocache"),
    ] {
        let server = Server::start(mode, plan.server_cpu).await?;
        let requests = Arc::new(prepare(&server, 1, VARIANTS)?);
        // Warm-up: connections, the discovery cache, the token cache.
        let warm = Spec {
            addr: server.addr,
            concurrency: plan.concurrency,
            max_requests: 2000,
            duration: Duration::from_millis(500),
        };
        load::run(warm, Arc::clone(&requests)).await?;
        let before = server.stats().await?;
        let spec = Spec {
            duration: Duration::from_secs(plan.seconds),
            max_requests: u64::MAX,
            ..warm
        };
        let outcome = load::run(spec, requests).await?;
        let after = server.stats().await?;
        eprintln!(
            "{name}: {:.0} req/s, {} errors",
            outcome.per_second(),
            outcome.errors
        );
        out[name] = json!({
            "load": outcome.to_json(),
            "server_before": before,
            "server_after": after,
        });
        server.stop().await;
    }
    if let Some(py) = &plan.pyref {
        for (key, ttl, behaviour) in pyref::CONFIGS {
            let mut v =
                pyref::measure(py, ttl, plan.concurrency, plan.seconds, plan.server_cpu).await;
            match v["failed"].as_str() {
                Some(why) => eprintln!("{key}: FAILED: {why}"),
                None => eprintln!(
                    "{key}: {} req/s, {} errors, {} fetches per request",
                    v["load"]["req_per_s"], v["load"]["errors"], v["fetches"]["per_request"]
                ),
            }
            v["behaviour"] = behaviour.into();
            out[key] = v;
        }
    }
    out["long_run"] = long_run(plan).await?;
    Ok(out)
}

/// The cache under churn: every request carries one of `2 × capacity` distinct tokens, in
/// rounds; the server's resident set and the cache's size are sampled after each round.
async fn long_run(plan: &Plan) -> Result<Value, Error> {
    let server = Server::start("aauth", plan.server_cpu).await?;
    let tokens = 2 * DEFAULT_TOKEN_CACHE_CAPACITY;
    let mut rounds = Vec::new();
    for _ in 0..plan.long_rounds {
        let requests = Arc::new(prepare(&server, tokens, tokens)?);
        let spec = Spec {
            addr: server.addr,
            concurrency: plan.concurrency,
            max_requests: u64::MAX,
            duration: Duration::from_secs(plan.seconds),
        };
        let outcome = load::run(spec, requests).await?;
        let stats = server.stats().await?;
        eprintln!(
            "long run: {:.0} req/s, rss {} KiB",
            outcome.per_second(),
            stats["rss_kib"]
        );
        rounds.push(json!({ "load": outcome.to_json(), "server": stats }));
    }
    server.stop().await;
    Ok(
        json!({ "distinct_tokens": tokens, "capacity": DEFAULT_TOKEN_CACHE_CAPACITY, "rounds": rounds }),
    )
}

/// `count` signed GETs to the server's resource, over `tokens` distinct auth tokens.
fn prepare(server: &Server, tokens: usize, count: usize) -> Result<Vec<Signed>, Error> {
    let now = UnixTime::now();
    let authority = server.addr.to_string();
    let toks: Vec<String> = (0..tokens)
        .map(|n| auth_token(&server.auth, &server.resource, n, now))
        .collect();
    (0..count)
        .map(|i| sign_get(&authority, &format!("/data?i={i}"), &toks[i % tokens], now))
        .collect()
}

/// A `serve` child process.
pub(crate) struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The server under load: the resource, or the auth server in mode `issuer`.
    pub(crate) addr: SocketAddr,
    pub(crate) resource: String,
    pub(crate) auth: String,
    /// Everything the child announced (mode `issuer` adds `agent`).
    pub(crate) info: Value,
}

impl Server {
    pub(crate) async fn start(mode: &str, cpu: Option<u32>) -> Result<Self, Error> {
        let exe = std::env::current_exe()?;
        let mut cmd = if let Some(cpu) = cpu {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let mut child = cmd
            .args(["serve", "--mode", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await??;
        let v: Value = serde_json::from_str(&line)?;
        let resource = v["resource"].as_str().ok_or("no resource URL")?.to_owned();
        let auth = v["auth"].as_str().ok_or("no auth URL")?.to_owned();
        let target = if mode == "issuer" { &auth } else { &resource };
        let addr = target.trim_start_matches("http://").parse()?;
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            addr,
            resource,
            auth,
            info: v,
        })
    }

    /// Sends `signed` on a fresh connection; the status and the whole body.
    pub(crate) async fn send(&self, signed: &Signed) -> Result<(http::StatusCode, Bytes), Error> {
        load::send_one(self.addr, signed).await
    }

    /// `GET /stats`.
    pub(crate) async fn stats(&self) -> Result<Value, Error> {
        let get = Signed {
            method: http::Method::GET,
            target: "/stats".to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        let (_, body) = self.send(&get).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Closes the child's standard input (its signal to exit) and waits for it.
    pub(crate) async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
