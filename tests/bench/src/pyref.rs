//! The Python reference resource under the same load as the axum resource: the
//! apples-to-apples side of the "≥ 15× the Python reference" target.
//!
//! `peers/resource.py` of the reference checkout (aauth 0.1.0 on FastAPI/uvicorn, as
//! `peers.sh` starts it) runs as a child process pinned to the server CPU and answers
//! `GET /data-auth`, the route that requires an auth token, over loopback HTTP/1.1. It
//! verifies each request its own way: `verify_signature` (the `scheme=jwt` auth token's
//! JWT, then the HTTP signature with its `cnf.jwk`), `verify_token` (the same JWT again,
//! `typ`, `exp`, `aud`) and the harness's Content-Digest check; each of the two JWT
//! verifications asks its fetcher for the issuer's keys, which is
//! `GET {iss}/.well-known/aauth-issuer` and then `GET {jwks_uri}` (`common.discover_jwks`).
//!
//! The issuer those fetches reach is a small axum server inside this process (the client,
//! pinned to the other CPU), counting what it serves: the Python side's core is spent on
//! the Python resource alone, the most favourable setup for the reference. Two
//! configurations are measured: `AAUTH_JWKS_CACHE_TTL=0`, the demo resource's behaviour
//! (metadata and JWKS fetched on every verification, the premise of the target), and the
//! harness default of 60 s (fetched about once).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aauth_core::{IssuerMetadata, Jwks, Signer as _, UnixTime};
use aauth_pyref_peers::{Harness, Peer, free_port};
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;
use crate::fixture::{Signed, auth_key, auth_token, sign_get};
use crate::load::{self, Outcome, Spec};

/// The configurations measured: the `e2e.json` key, `AAUTH_JWKS_CACHE_TTL`, and what it
/// means.
pub(crate) const CONFIGS: [(&str, u32, &str); 2] = [
    (
        "python_resource",
        0,
        "metadata and JWKS fetched on every verification, as the demo resource does",
    ),
    (
        "python_resource_cached",
        60,
        "the harness's 60 s metadata/JWKS cache (a deviation from the demo, in the reference's favour)",
    ),
];

/// The most requests that may fail (non-`200` or a broken connection), per thousand, for
/// a measurement to count: a benchmark of `401`s measures nothing.
const MAX_ERRORS_PER_MILLE: u64 = 1;

/// Distinct signed requests cycled, as for the axum modes.
const VARIANTS: usize = 256;

/// Measures the Python resource with `AAUTH_JWKS_CACHE_TTL=ttl`: the measurement as JSON,
/// or `{"failed": why}` (the caller turns that into a failed run, after reporting).
pub(crate) async fn measure(
    py: &Harness,
    ttl: u32,
    concurrency: usize,
    seconds: u64,
    cpu: Option<u32>,
) -> Value {
    match measure_inner(py, ttl, concurrency, seconds, cpu).await {
        Ok(v) => v,
        Err(e) => json!({ "failed": e.to_string() }),
    }
}

async fn measure_inner(
    py: &Harness,
    ttl: u32,
    concurrency: usize,
    seconds: u64,
    cpu: Option<u32>,
) -> Result<Value, Error> {
    let issuer = Issuer::start().await?;
    let mut resource = PyResource::start(py, &issuer.url, ttl, cpu).await?;
    let result = drive(&resource, &issuer, concurrency, seconds).await;
    let log = resource.peer.log_tail();
    resource.peer.stop();
    let mut v = result.map_err(|e| format!("{e}; resource log: {log}"))?;
    v["ttl_s"] = ttl.into();
    v["command"] = resource.peer.command().into();
    Ok(v)
}

async fn drive(
    resource: &PyResource,
    issuer: &Issuer,
    concurrency: usize,
    seconds: u64,
) -> Result<Value, Error> {
    // Signed once the resource is up: its `created` window is 60 s.
    let now = UnixTime::now();
    let addr = resource.peer.addr();
    let authority = addr.to_string();
    let token = auth_token(&issuer.url, resource.peer.url(), 0, now);
    let requests = (0..VARIANTS)
        .map(|i| sign_get(&authority, &format!("/data-auth?i={i}"), &token, now))
        .collect::<Result<Vec<Signed>, Error>>()?;
    // One request by hand: it must be granted, else the load below would time 401s.
    let (status, body) = load::send_one(addr, &requests[0]).await?;
    let body = String::from_utf8_lossy(&body);
    if status != http::StatusCode::OK || !body.contains("Access granted") {
        return Err(format!("the first request was not granted: {status} {body}").into());
    }
    let requests = Arc::new(requests);
    let warm = Spec {
        addr,
        concurrency,
        max_requests: 2000,
        duration: Duration::from_millis(500),
    };
    check_success(&load::run(warm, Arc::clone(&requests)).await?)?;
    let before = issuer.counts();
    let spec = Spec {
        duration: Duration::from_secs(seconds),
        max_requests: u64::MAX,
        ..warm
    };
    let outcome = load::run(spec, requests).await?;
    let after = issuer.counts();
    check_success(&outcome)?;
    let (metadata, jwks) = (after.0 - before.0, after.1 - before.1);
    Ok(json!({
        "aauth": resource.aauth_version,
        "load": outcome.to_json(),
        "fetches": {
            "metadata": metadata,
            "jwks": jwks,
            "per_request": fetches_per_request(metadata + jwks, outcome.completed + outcome.errors),
        },
    }))
}

/// Fails unless at least one request succeeded and at most [`MAX_ERRORS_PER_MILLE`] ‰
/// failed.
pub(crate) fn check_success(o: &Outcome) -> Result<(), Error> {
    success(o.completed, o.errors)
}

fn success(completed: u64, errors: u64) -> Result<(), Error> {
    let total = completed + errors;
    if completed == 0 || errors * 1000 > total * MAX_ERRORS_PER_MILLE {
        return Err(format!(
            "{errors} of {total} requests failed (not 200, or the connection broke)"
        )
        .into());
    }
    Ok(())
}

/// Fetches per request, rounded to two decimals; `None` without requests.
pub(crate) fn fetches_per_request(fetches: u64, requests: u64) -> Option<f64> {
    (requests > 0).then(|| (fetches as f64 / requests as f64 * 100.0).round() / 100.0)
}

/// The auth server as the Python resource sees it: its metadata and JWKS, served from
/// this process and counted.
struct Issuer {
    url: String,
    metadata: Arc<AtomicU64>,
    jwks: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Issuer {
    async fn start() -> Result<Self, Error> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", l.local_addr()?);
        let meta: Arc<[u8]> = serde_json::to_vec(&IssuerMetadata::for_id(&url))?.into();
        let keys: Arc<[u8]> = serde_json::to_vec(&Jwks::new(vec![auth_key().public_jwk()]))?.into();
        let (metadata, jwks) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (m, j) = (Arc::clone(&metadata), Arc::clone(&jwks));
        let app = Router::new()
            .route(
                "/.well-known/aauth-issuer",
                get(move || {
                    m.fetch_add(1, Ordering::Relaxed);
                    std::future::ready(([("content-type", "application/json")], meta.to_vec()))
                }),
            )
            .route(
                "/jwks.json",
                get(move || {
                    j.fetch_add(1, Ordering::Relaxed);
                    std::future::ready(([("content-type", "application/json")], keys.to_vec()))
                }),
            );
        let task = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        Ok(Self {
            url,
            metadata,
            jwks,
            task,
        })
    }

    /// Metadata and JWKS documents served so far.
    fn counts(&self) -> (u64, u64) {
        (
            self.metadata.load(Ordering::Relaxed),
            self.jwks.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `python peers/resource.py`, pinned; killed on drop.
struct PyResource {
    /// Its URL is also its `RESOURCE_ID`: the audience it expects in auth tokens.
    peer: Peer,
    aauth_version: String,
}

impl PyResource {
    async fn start(py: &Harness, issuer: &str, ttl: u32, cpu: Option<u32>) -> Result<Self, Error> {
        let aauth_version = aauth_version(py.python())?;
        let port = free_port()?;
        let launch = py
            .peer("resource", "RESOURCE_PORT")
            .port(port)
            .env("RESOURCE_ID", &format!("http://127.0.0.1:{port}"))
            .env("RESOURCE_AUTH_SERVER", issuer)
            .env("AAUTH_JWKS_CACHE_TTL", &ttl.to_string())
            .pin_to_cpu(cpu);
        // The readiness wait blocks: off this current-thread runtime, whose issuer task
        // must keep serving meanwhile.
        let peer = tokio::task::spawn_blocking(move || launch.start()).await??;
        Ok(Self {
            peer,
            aauth_version,
        })
    }
}

/// `aauth.__version__` in the interpreter's environment.
fn aauth_version(python: &Path) -> Result<String, Error> {
    let out = std::process::Command::new(python)
        .args(["-c", "import aauth; print(aauth.__version__)"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot import aauth (run the reference's setup.sh)",
            python.display()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_needs_nearly_every_request_granted() {
        assert!(success(10_000, 0).is_ok());
        assert!(success(9_990, 10).is_ok());
        assert!(success(9_989, 11).is_err());
        // All 401s: nothing succeeded.
        assert!(success(0, 5000).is_err());
        // Nothing sent at all.
        assert!(success(0, 0).is_err());
    }

    #[test]
    fn fetches_are_counted_per_request() {
        assert_eq!(fetches_per_request(4000, 1000), Some(4.0));
        assert_eq!(fetches_per_request(2, 3000), Some(0.0));
        assert_eq!(fetches_per_request(1, 3), Some(0.33));
        assert_eq!(fetches_per_request(5, 0), None);
    }
}
