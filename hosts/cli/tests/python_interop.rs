//! Interop with the Python reference peers (`../shared/interop/python-ref`, `aauth` 0.1.0).
//!
//! One test function, run serially (the standard peers use fixed ports 8001–8005):
//! 1. our `fetch` → Python resource :8002 (`/data-auth`, `/data-user` with consent,
//!    `/data-chain` via the Python exchange pair :8004/:8005, `/data-jwks` as a delegate);
//! 2. the Python agent (`POST :8001/request`) → our resource + our issuers (`/data-auth`
//!    with `jwks` and `jwt-agent`, `/data-hwk` with `hwk`, `/data-user`, `/data-chain`);
//! 3. mixed: our resource trusting the Python auth server :8003; a Python resource (extra
//!    process on a free port) trusting our issuer;
//! 4. token exchange across implementations: an upstream token from our issuer exchanged at
//!    a Python auth server (extra processes), and an upstream token from the Python auth
//!    server exchanged at our issuer.
//!
//! Set `AAUTH_SKIP_PYTHON=1` to skip. Every wait is bounded.

use std::time::Duration;

use aauth_cli::cli::{ConsentMode, SchemeArg, UserPass};
use aauth_cli::fetch::{FetchOptions, FetchOutcome, fetch};
use aauth_cli::issuer::{self, IssuerOptions};
use aauth_cli::resource::{self, ResourceOptions};
use aauth_pyref_peers::{Harness, Peer, StandardPeers, skip_requested};
use serde_json::{Value, json};

const PY_AGENT: &str = StandardPeers::AGENT;
const PY_RESOURCE: &str = StandardPeers::RESOURCE;
const PY_AUTH: &str = StandardPeers::AUTH;

/// An extra Python peer on a free port, with `env`; killed on drop.
fn py_peer(harness: &Harness, script: &str, port_var: &str, env: &[(&str, &str)]) -> Peer {
    let launch = env
        .iter()
        .fold(harness.peer(script, port_var), |l, (k, v)| l.env(k, v));
    let peer = tokio::task::block_in_place(|| launch.start()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("python {script} up on {} ({env:?})", peer.url());
    peer
}

async fn loopback() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    (l, url)
}

fn spawn(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

async fn our_issuer(dir: &std::path::Path, trust: &[&str]) -> String {
    let (l, id) = loopback().await;
    let router = issuer::build(&IssuerOptions {
        id: id.clone(),
        db: dir
            .join(format!(
                "issuer-{}.db",
                id.rsplit(':').next().unwrap_or("x")
            ))
            .into(),
        trust: trust.iter().map(|s| (*s).to_owned()).collect(),
        consent_prefixes: vec![],
        users: vec![UserPass {
            name: "testuser".into(),
            password: "testpass".into(),
        }],
        dev: true,
        purge_every: None,
    })
    .await
    .expect("issuer");
    spawn(l, router);
    id
}

async fn our_resource(auth_servers: &[&str], downstream: Option<String>) -> String {
    let (l, id) = loopback().await;
    let router = resource::build(ResourceOptions {
        id: id.clone(),
        auth_servers: auth_servers.iter().map(|s| (*s).to_owned()).collect(),
        downstream,
        key: aauth_cli::keys::generate("resource-key-1").expect("key"),
        dev: true,
    })
    .expect("resource");
    spawn(l, router);
    id
}

fn opts(url: &str, key_dir: &std::path::Path) -> FetchOptions {
    let mut o = FetchOptions::new(url);
    o.dev = true;
    o.key_file = key_dir.join("agent-key.json");
    o.consent = ConsentMode::Auto;
    o.user = Some(UserPass {
        name: "testuser".into(),
        password: "testpass".into(),
    });
    o.timeout = Duration::from_secs(30);
    o
}

async fn our_fetch(label: &str, o: &FetchOptions) -> (FetchOutcome, Value) {
    let out = tokio::time::timeout(Duration::from_secs(90), fetch(o))
        .await
        .unwrap_or_else(|_| panic!("{label}: timed out"))
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let body = out.json();
    eprintln!("[ours → {label}] {} {body}", out.status);
    if out.status != 200
        && let Some(t) = &out.trace
    {
        eprintln!("{t}");
    }
    assert_eq!(out.status, 200, "{label}: {body}");
    (out, body)
}

/// Drives the Python agent; returns the final resource body.
async fn py_agent(http: &reqwest::Client, label: &str, url: &str, scheme: &str) -> Value {
    let res = http
        .post(format!("{PY_AGENT}/request"))
        .json(&json!({"resource_url": url, "sig_scheme": scheme}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let v: Value = res.json().await.unwrap_or_else(|e| panic!("{label}: {e}"));
    let last = v["trace"]
        .as_array()
        .and_then(|t| t.last())
        .cloned()
        .unwrap_or(Value::Null);
    eprintln!(
        "[python agent → {label}] ok={} body={}",
        v["ok"], last["body"]
    );
    assert_eq!(v["ok"], true, "{label}: {v:#}");
    last["body"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reference_interop() {
    if skip_requested("python_reference_interop") {
        return;
    }
    aauth_cli::init_tls();
    let harness = Harness::from_env();
    let _peers =
        tokio::task::block_in_place(|| harness.start_standard()).unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client");
    let tmp = tempfile::tempdir().expect("tmp");

    // ---- 1. our agent (fetch) → Python resource + Python auth servers --------------------
    let (out, b) = our_fetch(
        "py /data-auth",
        &opts(&format!("{PY_RESOURCE}/data-auth"), tmp.path()),
    )
    .await;
    let agent_id = out.agent_id.clone().expect("agent id");
    assert_eq!(b["scheme"], "jwt");
    assert_eq!(b["token_type"], "auth+jwt");
    assert_eq!(b["agent"], agent_id.as_str());
    assert_eq!(b["scope"], "data.read data.write");

    let (_, b) = our_fetch(
        "py /data-user",
        &opts(&format!("{PY_RESOURCE}/data-user"), tmp.path()),
    )
    .await;
    assert_eq!(b["scope"], "user.read");
    assert_eq!(b["sub"], "testuser");

    let (out, b) = our_fetch(
        "py /data-chain",
        &opts(&format!("{PY_RESOURCE}/data-chain"), tmp.path()),
    )
    .await;
    assert_eq!(b["downstream"]["status"], 200, "{b}");
    assert_eq!(
        b["downstream"]["body"]["act"]["agent"],
        out.agent_id.as_deref().unwrap_or_default()
    );

    let mut o = opts(&format!("{PY_RESOURCE}/data-jwks"), tmp.path());
    o.scheme = SchemeArg::Jwt;
    let (out, b) = our_fetch("py /data-jwks (delegate)", &o).await;
    assert_eq!(b["token_type"], "agent+jwt");
    assert_eq!(b["agent"], out.agent_id.as_deref().unwrap_or_default());

    let mut o = opts(&format!("{PY_RESOURCE}/data-hwk"), tmp.path());
    o.scheme = SchemeArg::Hwk;
    let (_, b) = our_fetch("py /data-hwk (hwk)", &o).await;
    assert_eq!(b["scheme"], "hwk");

    // ---- our servers: I1, I2 (trusts I1 and the Python :8003), R2 (I2), R1 (I1 → R2) -----
    let i1 = our_issuer(tmp.path(), &[]).await;
    let i2 = our_issuer(tmp.path(), &[&i1, PY_AUTH]).await;
    let r2 = our_resource(&[&i2], None).await;
    let r1 = our_resource(&[&i1], Some(format!("{r2}/data-auth"))).await;

    // ---- 2. the Python agent → our resource + our auth servers -------------------------
    let b = py_agent(
        &http,
        "ours /data-auth jwks",
        &format!("{r1}/data-auth"),
        "jwks",
    )
    .await;
    assert_eq!(b["agent"], PY_AGENT);
    assert_eq!(b["scope"], "data.read data.write");
    assert_eq!(b["scheme"], "jwt");
    let b = py_agent(
        &http,
        "ours /data-auth jwt-agent",
        &format!("{r1}/data-auth"),
        "jwt-agent",
    )
    .await;
    assert_eq!(b["agent"], PY_AGENT);
    assert_eq!(b["agent_delegate"], "delegate-1");
    let b = py_agent(
        &http,
        "ours /data-hwk hwk",
        &format!("{r1}/data-hwk"),
        "hwk",
    )
    .await;
    assert_eq!(b["scheme"], "hwk");
    let b = py_agent(
        &http,
        "ours /data-jwks jwks",
        &format!("{r1}/data-jwks"),
        "jwks",
    )
    .await;
    assert_eq!(b["scheme"], "jwks");
    assert_eq!(b["agent_id"], PY_AGENT);
    let b = py_agent(
        &http,
        "ours /data-user consent",
        &format!("{r1}/data-user"),
        "jwks",
    )
    .await;
    assert_eq!(b["scope"], "user.read");
    assert!(b["sub"].is_string(), "{b}");
    let b = py_agent(
        &http,
        "ours /data-chain",
        &format!("{r1}/data-chain"),
        "jwks",
    )
    .await;
    assert_eq!(b["downstream"]["status"], 200, "{b}");
    assert_eq!(b["downstream"]["body"]["agent"], r1.as_str());
    assert_eq!(b["downstream"]["body"]["act"]["agent"], PY_AGENT);

    // ---- 3a. our resource trusting the Python auth server :8003 ------------------------
    // R3 also calls R2 by exchange at our I2: the upstream token comes from Python :8003.
    let r3 = our_resource(&[PY_AUTH], Some(format!("{r2}/data-auth"))).await;
    let (out, b) = our_fetch(
        "ours(R→py AS) /data-auth",
        &opts(&format!("{r3}/data-auth"), tmp.path()),
    )
    .await;
    assert_eq!(b["agent"], out.agent_id.as_deref().unwrap_or_default());
    let b = py_agent(
        &http,
        "ours(R→py AS) /data-auth",
        &format!("{r3}/data-auth"),
        "jwks",
    )
    .await;
    assert_eq!(b["agent"], PY_AGENT);
    let (_, b) = our_fetch(
        "ours(R→py AS) /data-user",
        &opts(&format!("{r3}/data-user"), tmp.path()),
    )
    .await;
    assert_eq!(b["sub"], "testuser");

    // ---- 4b. exchange: upstream token from Python :8003, exchanged at our I2 --------------
    let (out, b) = our_fetch(
        "ours(R→py AS) /data-chain",
        &opts(&format!("{r3}/data-chain"), tmp.path()),
    )
    .await;
    assert_eq!(b["downstream"]["status"], 200, "{b}");
    assert_eq!(b["downstream"]["body"]["agent"], r3.as_str());
    assert_eq!(
        b["downstream"]["body"]["act"]["agent"],
        out.agent_id.as_deref().unwrap_or_default()
    );

    // ---- 3b + 4a. Python resource trusting our I1; its /data-chain exchanges our token at a
    // Python auth server that trusts I1, for a Python resource 2 -------------------------
    let pa2 = py_peer(
        &harness,
        "auth_server",
        "AUTH_PORT",
        &[
            ("AUTH_KEY_ROLE", "auth2"),
            ("AUTH_TRUSTED_AUTH_SERVERS", &i1),
        ],
    );
    let pr2 = py_peer(
        &harness,
        "resource",
        "RESOURCE_PORT",
        &[
            ("RESOURCE_KEY_ROLE", "resource2"),
            ("RESOURCE_AUTH_SERVER", pa2.url()),
            ("RESOURCE_SCOPE", "data.read"),
        ],
    );
    let down = format!("{}/data-auth", pr2.url());
    let pr = py_peer(
        &harness,
        "resource",
        "RESOURCE_PORT",
        &[
            ("RESOURCE_AUTH_SERVER", &i1),
            ("RESOURCE_DOWNSTREAM_URL", &down),
        ],
    );
    let (out, b) = our_fetch(
        "py(R→our AS) /data-auth",
        &opts(&format!("{}/data-auth", pr.url()), tmp.path()),
    )
    .await;
    assert_eq!(b["agent"], out.agent_id.as_deref().unwrap_or_default());
    assert_eq!(b["scope"], "data.read data.write");
    let b = py_agent(
        &http,
        "py(R→our AS) /data-auth jwt-agent",
        &format!("{}/data-auth", pr.url()),
        "jwt-agent",
    )
    .await;
    assert_eq!(b["agent_delegate"], "delegate-1");
    let b = py_agent(
        &http,
        "py(R→our AS) /data-user",
        &format!("{}/data-user", pr.url()),
        "jwks",
    )
    .await;
    assert_eq!(b["scope"], "user.read");
    assert!(b["sub"].is_string(), "{b}");
    let (out, b) = our_fetch(
        "py(R→our AS) /data-chain",
        &opts(&format!("{}/data-chain", pr.url()), tmp.path()),
    )
    .await;
    assert_eq!(b["downstream"]["status"], 200, "{b}");
    assert_eq!(b["downstream"]["body"]["agent"], pr.url());
    assert_eq!(
        b["downstream"]["body"]["act"]["agent"],
        out.agent_id.as_deref().unwrap_or_default()
    );

    drop((pr, pr2, pa2));
}
