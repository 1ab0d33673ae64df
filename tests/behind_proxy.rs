//! A resource behind a real reverse proxy (Debian's nginx, started by this test on
//! loopback) that rewrites `Host` and the port: the agent signs for the public authority
//! (the proxy's), the resource sees `Host: backend.internal:8443` on another port, and
//! verifies against its configured canonical authority (digest §3.2: `@authority` is the
//! authority the client addressed, which behind a proxy is not the `Host` the origin
//! receives). Requests signed for any other authority (the origin's own address, or the
//! rewritten `Host`) are refused with `401 invalid_signature`.
//!
//! The nginx binary comes from Debian (`tests/run-all.sh` installs it); the test runs it
//! in the foreground as a single process with a config in a temp dir and kills it at the
//! end. `AAUTH_SKIP_NGINX=1` skips the test with a `SKIPPED: …` line on stderr that
//! `cargo test` shows even for a passing test; a missing nginx fails it (locally and in CI,
//! where the setup gate installs it), so the proxy path is never skipped silently.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aauth_agent::{AgentClient, AgentRequest, AgentServer, Identity, Step};
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::{KeyScheme, RequestParts, SigningKey, UnixTime};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{IssuerConfig, serve};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The `Host` nginx sends upstream instead of the one the client used.
const BACKEND_HOST: &str = "backend.internal:8443";

/// nginx in the foreground; killed on drop.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Proxies `127.0.0.1:public_port` to `127.0.0.1:origin_port`, rewriting `Host`.
    fn start(public_port: u16, origin_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        // One foreground process (no master/worker split, no user switch), every path
        // inside the temp dir, HTTP/1.1 upstream so nothing is downgraded.
        let conf = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    server {{
        listen 127.0.0.1:{public_port};
        location / {{
            proxy_pass http://127.0.0.1:{origin_port};
            proxy_http_version 1.1;
            proxy_set_header Host {BACKEND_HOST};
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}
}}
"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(nginx_bin())
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Self { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", public_port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited: {status}");
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reports a skipped test on the process's stderr. Not `eprintln!`: libtest captures that
/// for a passing test and discards it, so a skip looked exactly like a pass.
fn report_skip(reason: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {test}: {reason}");
}

fn nginx_bin() -> &'static str {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx"] {
        if std::path::Path::new(p).is_file() {
            return p;
        }
    }
    panic!(
        "nginx not found; install Debian's `nginx` (tests/run-all.sh setup does) or set AAUTH_SKIP_NGINX=1"
    )
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    (l, base)
}

fn spawn(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
}

/// What the origin saw: the `Host` after the proxy, and who the middleware verified.
async fn whoami(headers: HeaderMap, agent: VerifiedAgent) -> axum::Json<Value> {
    axum::Json(json!({
        "host": headers.get("host").and_then(|v| v.to_str().ok()),
        "forwarded_host": headers.get("x-forwarded-host").and_then(|v| v.to_str().ok()),
        "scheme": agent.scheme(),
        "agent": agent.agent(),
        "scope": agent.scope(),
    }))
}

/// Sends `GET url` signed (`scheme=jwks`) with `@authority` = `authority`.
async fn signed_get(
    http: &reqwest::Client,
    url: &str,
    authority: &str,
    signature_key: &str,
    key: &SigningKey,
) -> (u16, Value) {
    let path = url::Url::parse(url).expect("url").path().to_owned();
    let parts = RequestParts::new("GET", authority, &path, &[]).with_scheme("http");
    let sig = sign_request(
        &parts,
        signature_key,
        key,
        &SignOptions::new(UnixTime::now()),
    )
    .expect("sign");
    let mut rb = http.get(url);
    for (n, v) in sig.iter() {
        rb = rb.header(n, v);
    }
    let resp = rb.send().await.expect("send");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canonical_authority_behind_nginx_rewriting_host_and_port() {
    if std::env::var("AAUTH_SKIP_NGINX").as_deref() == Ok("1") {
        report_skip("AAUTH_SKIP_NGINX=1 (unset it to run the reverse-proxy test)");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::time::timeout(Duration::from_secs(60), async {
        // The public side: nginx on a free port. The origin: our resource on another.
        let public_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let public_authority = format!("127.0.0.1:{public_port}");
        let public = format!("http://{public_authority}");
        let (origin_l, origin) = bind().await;
        let origin_authority = origin.trim_start_matches("http://").to_owned();

        // Agent server and auth server (SQLite in a temp dir), on loopback.
        let (agent_l, agent_id) = bind().await;
        let agent_key = Arc::new(SigningKey::from_seed(&[1; 32]).with_kid("key-1"));
        spawn(
            agent_l,
            AgentServer::new(&agent_id, Arc::clone(&agent_key)).router(),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let (issuer_l, issuer) = bind().await;
        let store = SqliteStore::open(dir.path().join("issuer.db"))
            .await
            .expect("sqlite");
        store
            .create_user("testuser", &hash_password("testpass").expect("hash"), 0)
            .await
            .expect("user");
        let config = IssuerConfig::new(&issuer, Discovery::new(EgressPolicy::dev()).unwrap())
            .expect("issuer config");
        tokio::spawn(async move {
            serve(config, store, issuer_l, std::future::pending::<()>())
                .await
                .expect("issuer");
        });

        // The resource: its identifier is the public URL, and it is told its canonical
        // authority explicitly, as an operator does for a deployment behind a proxy.
        let config = ResourceConfig::builder(
            public.clone(),
            SigningKey::from_seed(&[21; 32]).with_kid("resource-key-1"),
            Discovery::new(EgressPolicy::dev()).unwrap(),
        )
        .canonical_authority("http", &public_authority)
        .auth_server(&issuer)
        .supported_scopes(["data.read"])
        .build()
        .expect("resource config");
        assert_eq!(
            config.canonical_authority(),
            ("http", public_authority.as_str())
        );
        let app = Router::new()
            .route(
                "/data",
                get(whoami).layer(config.require(Requirement::auth_token(["data.read"]))),
            )
            .route(
                "/whoami",
                get(whoami).layer(config.require(Requirement::Signature)),
            )
            .merge(config.metadata_router());
        spawn(origin_l, app);
        let origin_port = origin_authority
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("origin port");
        let _nginx = Nginx::start(public_port, origin_port);

        // 1. Our agent client, through the proxy: challenge, token, retry, all signed for
        //    the public authority; the origin saw the rewritten Host and still verified.
        let client =
            AgentClient::builder(Arc::clone(&agent_key), Identity::agent_server(&agent_id))
                .timeout(Duration::from_secs(10))
                .trace(true)
                .egress(EgressPolicy::dev())
                .build()
                .expect("client");
        let res = client
            .send(AgentRequest::get(&format!("{public}/data")).unwrap())
            .await
            .expect("agent request");
        let trace = res.trace.clone().expect("trace");
        let status = res.status();
        let body: Value =
            serde_json::from_slice(&res.response.bytes().await.expect("body")).expect("json");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["host"], BACKEND_HOST, "nginx rewrote Host: {body}");
        assert_eq!(body["forwarded_host"], public_authority.as_str());
        assert_eq!(body["scheme"], "jwt");
        assert_eq!(body["agent"], agent_id.as_str());
        assert_eq!(body["scope"], "data.read");
        let statuses: Vec<(String, Option<u16>)> = trace
            .hops
            .iter()
            .map(|h| (h.step.to_string(), h.status))
            .collect();
        assert_eq!(
            trace.hops.first().map(|h| (&h.step, h.status)),
            Some((&Step::Resource, Some(401))),
            "{statuses:?}"
        );
        assert_eq!(
            trace.hops.last().map(|h| (&h.step, h.status)),
            Some((&Step::Retry, Some(200))),
            "{statuses:?}"
        );

        // 2. Signed requests straight through the proxy: only the public authority works.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http");
        let sk = KeyScheme::Jwks(JwksRef::Id {
            id: agent_id.clone(),
            kid: "key-1".into(),
            well_known: Some("aauth-agent".into()),
        })
        .to_header("sig1")
        .expect("signature-key");
        let url = format!("{public}/whoami");
        let ok = signed_get(&http, &url, &public_authority, &sk, &agent_key).await;
        assert_eq!(ok.0, 200, "{ok:?}");
        assert_eq!(ok.1["host"], BACKEND_HOST);
        assert_eq!(ok.1["agent"], agent_id.as_str());
        for other in [origin_authority.as_str(), BACKEND_HOST, "evil.example"] {
            let (status, v) = signed_get(&http, &url, other, &sk, &agent_key).await;
            assert_eq!(
                (status, v["error"].as_str()),
                (401, Some("invalid_signature")),
                "signed for {other}: {v}"
            );
            let description = v["error_description"].as_str().unwrap_or_default();
            assert!(
                description.contains("signature verification failed"),
                "signed for {other}: {v}"
            );
        }
    })
    .await
    .expect("test timed out");
}

/// The skip above is visible in a plain `cargo test` run: this binary, re-run for just that
/// test with `AAUTH_SKIP_NGINX=1` and output capture on, prints the `SKIPPED:` line.
#[test]
fn a_skipped_proxy_test_says_so_on_stderr() {
    const TEST: &str = "canonical_authority_behind_nginx_rewriting_host_and_port";
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--test-threads", "1"])
        .env("AAUTH_SKIP_NGINX", "1")
        .output()
        .expect("re-run the test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("SKIPPED: {TEST}: AAUTH_SKIP_NGINX=1")),
        "no SKIPPED line on stderr: {stderr:?}"
    );
}
