//! Benchmark (not a test) of the `aauth-spin` component in the in-process wasmtime 48
//! host: component size, compile + link, the cold first request (first instantiation in
//! the process + handling), and warm per-request latency. Every request runs in a fresh
//! instance, as Spin does, so "warm" means a compiled, pre-linked component and a warm
//! host, not a reused instance.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench --manifest-path tests/spin-host/Cargo.toml --bench spin_bench
//! ```
//! `SPIN_BENCH_N` sets the warm sample count (default 500).
//!
//! The last row runs the `spin` build (what `spin.toml` builds) with the host's in-memory
//! key-value store: the first request fills it, every later instance reads the agent's
//! metadata and JWKS from it instead of fetching them.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aauth_agent::AgentServer;
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::{KeyScheme, RequestParts, Signer as _, SigningKey, UnixTime};
use aauth_spin_host_tests::{
    GuestClock, KvBackend, Runtime, call, call_with, runtime, spin_runtime,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use wasmtime_wasi_http::WasiBody;

const SEED: &str = "0303030303030303030303030303030303030303030303030303030303030303";
const AUTHORITY: &str = "resource.bench";

fn env(agent: &str) -> Vec<(String, String)> {
    [
        ("AAUTH_RESOURCE_ID", format!("http://{AUTHORITY}")),
        ("AAUTH_AUTH_SERVERS", "http://127.0.0.1:1".to_owned()),
        (
            "AAUTH_ROUTES",
            "/data-hwk=signature;/data-jwks=identified".to_owned(),
        ),
        ("AAUTH_RESOURCE_KEY_SEED", SEED.to_owned()),
        ("AAUTH_EGRESS_ALLOW", agent.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn empty() -> WasiBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn unsigned(path: &str) -> http::Request<WasiBody> {
    http::Request::get(format!("http://{AUTHORITY}{path}"))
        .body(empty())
        .expect("request")
}

fn signed(path: &str, key: &SigningKey, scheme: &KeyScheme) -> http::Request<WasiBody> {
    let now = UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let sk = scheme.to_header("sig1").expect("signature-key");
    let parts = RequestParts::new("GET", AUTHORITY, path, &[]).with_scheme("http");
    let sig = sign_request(&parts, &sk, key, &SignOptions::new(now)).expect("sign");
    let mut req = unsigned(path);
    aauth_http_headers(req.headers_mut(), &sig);
    req
}

fn aauth_http_headers(h: &mut http::HeaderMap, sig: &aauth_core::httpsig::SignatureHeaders) {
    for (n, v) in sig.iter() {
        h.insert(
            http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
}

async fn timed(env: &[(String, String)], req: http::Request<WasiBody>, want: u16) -> Duration {
    let t = Instant::now();
    let resp = call(env, req).await.expect("call");
    let d = t.elapsed();
    assert_eq!(resp.status().as_u16(), want, "{:?}", resp.body());
    d
}

/// [`timed`] with `rt`'s component and `kv` behind its key-value stores.
async fn timed_kv(
    rt: &Runtime,
    kv: &Arc<KvBackend>,
    env: &[(String, String)],
    req: http::Request<WasiBody>,
    want: u16,
) -> Duration {
    let t = Instant::now();
    let clock = GuestClock::default();
    let resp = call_with(rt, env, Arc::default(), Arc::clone(kv), &clock, req)
        .await
        .expect("call");
    let d = t.elapsed();
    assert_eq!(resp.status().as_u16(), want, "{:?}", resp.body());
    d
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<44} n={:<4} p50 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        samples.len(),
        pick(0.50),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SPIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);

    // An agent server on loopback for the jwks case (metadata + JWKS fetched per request:
    // the in-instance cache does not outlive a per-request instance).
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let agent_id = format!("http://{}", l.local_addr().expect("addr"));
    let agent_key = Arc::new(SigningKey::from_seed(&[1; 32]).with_kid("key-1"));
    let server = AgentServer::new(&agent_id, Arc::clone(&agent_key));
    tokio::spawn(async move { axum::serve(l, server.router()).await });
    let env = env(agent_id.trim_start_matches("http://"));

    let t = Instant::now();
    let rt = tokio::task::block_in_place(runtime);
    println!(
        "component: {} bytes ({:.0} KiB); compile + link: {:.3?} (build check + compile {:.3?})",
        rt.component_bytes,
        rt.component_bytes as f64 / 1024.0,
        rt.compile_time,
        t.elapsed()
    );

    let hwk_key = SigningKey::from_seed(&[9; 32]);
    let hwk = KeyScheme::Hwk(hwk_key.public_jwk());
    let jwks = KeyScheme::Jwks(JwksRef::Id {
        id: agent_id.clone(),
        kid: "key-1".into(),
        well_known: Some("aauth-agent".into()),
    });

    // Cold: the first instantiation in this process, handling a signed hwk request.
    let cold = timed(&env, signed("/data-hwk", &hwk_key, &hwk), 200).await;
    println!("cold instantiate + first request (hwk):       {cold:.3?}");

    let mut meta = Vec::with_capacity(n);
    for _ in 0..n {
        meta.push(timed(&env, unsigned("/.well-known/aauth-resource"), 200).await);
    }
    report("warm GET /.well-known/aauth-resource", meta);

    let mut challenge = Vec::with_capacity(n);
    for _ in 0..n {
        challenge.push(timed(&env, unsigned("/data-hwk"), 401).await);
    }
    report("warm unsigned → 401 challenge", challenge);

    let mut h = Vec::with_capacity(n);
    for _ in 0..n {
        h.push(timed(&env, signed("/data-hwk", &hwk_key, &hwk), 200).await);
    }
    report("warm signed hwk → 200", h);

    let mut j = Vec::with_capacity(n);
    for _ in 0..n {
        j.push(timed(&env, signed("/data-jwks", &agent_key, &jwks), 200).await);
    }
    report("warm signed jwks → 200 (2 loopback fetches)", j);

    // The `spin` build with a key-value store shared by its instances.
    let spin_rt = tokio::task::block_in_place(spin_runtime);
    let kv = KvBackend::new(&["default"]);
    let first = timed_kv(
        spin_rt,
        &kv,
        &env,
        signed("/data-jwks", &agent_key, &jwks),
        200,
    )
    .await;
    println!("spin build, first jwks (fetch + KV fill):     {first:.3?}");
    let mut k = Vec::with_capacity(n);
    for _ in 0..n {
        k.push(
            timed_kv(
                spin_rt,
                &kv,
                &env,
                signed("/data-jwks", &agent_key, &jwks),
                200,
            )
            .await,
        );
    }
    report("warm signed jwks → 200 (spin build, from KV)", k);
    println!(
        "  key-value store: {} writes, {} reads found an entry",
        kv.sets.load(std::sync::atomic::Ordering::SeqCst),
        kv.found.load(std::sync::atomic::Ordering::SeqCst)
    );
}
