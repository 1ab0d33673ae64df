//! The `aauth-spin` component in an in-process wasmtime host, against our native agent
//! (`AgentClient`, `AgentServer`) and auth server (`aauth-issuer`) on loopback: the
//! autonomous flow, the consent flow through the issuer's HTML form, negative cases
//! (bad signature, wrong audience, untrusted issuer, egress, silent servers), and the
//! Python reference agent (`../shared/interop/python-ref`; `AAUTH_SKIP_PYTHON=1` skips it).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aauth_agent::{AgentClient, AgentRequest, AgentServer, Clock, FormConsent, Identity, Step};
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::{
    AuthClaims, IssuerMetadata, KeyScheme, RequestParts, Signer, SigningKey, UnixTime,
};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{IssuerConfig, serve as serve_issuer};
use aauth_pyref_peers::{Harness, Peer, skip_requested};
use aauth_spin_host_tests::{GuestClock, KvBackend, runtime, serve, serve_with, spin_runtime};
use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokio::net::TcpListener;

const ROUTES: &str =
    "/data-hwk=signature;/data-jwks=identified;/data-auth=auth:data.read;/data-user=auth:user.read";

/// The wall-clock budget of one flow: a hang fails the test instead of stalling the suite.
const FLOW: Duration = Duration::from_secs(60);

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(FLOW, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {FLOW:?}"))
}
const SEED: &str = "0303030303030303030303030303030303030303030303030303030303030303";

fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

fn authority(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// A running agent server (axum) with hit counters.
struct Agent {
    id: String,
    key: Arc<SigningKey>,
    server: AgentServer,
    /// Every request it served.
    hits: Arc<AtomicUsize>,
    /// Its JWKS requests.
    jwks_hits: Arc<AtomicUsize>,
}

async fn start_agent(seed: u8) -> Agent {
    start_agent_with(seed, None).await
}

/// [`start_agent`], its JWKS answered with `Cache-Control: <jwks_cache_control>` when given
/// (its metadata never has one).
async fn start_agent_with(seed: u8, jwks_cache_control: Option<&'static str>) -> Agent {
    let (l, id) = bind().await;
    let key = Arc::new(SigningKey::from_seed(&[seed; 32]).with_kid("key-1"));
    let server = AgentServer::new(&id, Arc::clone(&key));
    let hits = Arc::new(AtomicUsize::new(0));
    let jwks_hits = Arc::new(AtomicUsize::new(0));
    let (counter, jwks_counter) = (Arc::clone(&hits), Arc::clone(&jwks_hits));
    let router = server.router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = req.uri().path() == "/jwks.json";
            if jwks {
                jwks_counter.fetch_add(1, Ordering::SeqCst);
            }
            async move {
                let mut resp = next.run(req).await;
                if let Some(cc) = jwks_cache_control.filter(|_| jwks) {
                    resp.headers_mut().insert(
                        axum::http::header::CACHE_CONTROL,
                        axum::http::HeaderValue::from_static(cc),
                    );
                }
                resp
            }
        },
    ));
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    Agent {
        id,
        key,
        server,
        hits,
        jwks_hits,
    }
}

/// Our auth server on loopback over a temporary SQLite file, with user
/// `testuser:testpass` (its default consent policy asks the user for `user.*` scopes).
async fn start_issuer(dir: &tempfile::TempDir) -> String {
    let (l, id) = bind().await;
    let store = SqliteStore::open(dir.path().join("issuer.db"))
        .await
        .unwrap();
    store
        .create_user("testuser", &hash_password("testpass").unwrap(), 0)
        .await
        .unwrap();
    let config = IssuerConfig::new(&id, Discovery::new(EgressPolicy::dev()).unwrap()).unwrap();
    tokio::spawn(async move {
        serve_issuer(config, store, l, std::future::pending())
            .await
            .unwrap();
    });
    id
}

/// A hand-made auth server publishing metadata + JWKS for `key` (to mint bad tokens).
async fn start_fake_issuer(key: &SigningKey) -> String {
    let (l, id) = bind().await;
    let meta = serde_json::to_value(IssuerMetadata::for_id(&id)).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
    let router = Router::new()
        .route(
            "/.well-known/aauth-issuer",
            get(move || async move { axum::Json(meta) }),
        )
        .route("/jwks.json", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    id
}

/// Starts the component with this configuration; returns its base URL.
async fn start_resource(extra: &[(&str, &str)], auth_servers: &str, allow: &[&str]) -> String {
    // Build + compile the component before any client (with its timeout) calls it.
    tokio::task::block_in_place(runtime);
    let (l, id) = bind().await;
    let mut env = vec![
        ("AAUTH_RESOURCE_ID".to_owned(), id.clone()),
        ("AAUTH_AUTH_SERVERS".to_owned(), auth_servers.to_owned()),
        ("AAUTH_ROUTES".to_owned(), ROUTES.to_owned()),
        ("AAUTH_RESOURCE_KEY_SEED".to_owned(), SEED.to_owned()),
        ("AAUTH_EGRESS_ALLOW".to_owned(), allow.join(",")),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    serve(env, l).await.unwrap();
    id
}

fn client(agent: &Agent) -> AgentClient {
    client_at(agent, &GuestClock::default())
}

/// [`client`], signing at the time `clock` shows (the component's, when it is moved).
fn client_at(agent: &Agent, clock: &GuestClock) -> AgentClient {
    let clock = clock.clone();
    AgentClient::builder(Arc::clone(&agent.key), Identity::agent_server(&agent.id))
        .clock(Clock::from_fn(move || {
            UnixTime::from_secs(clock.now().as_secs())
        }))
        .build()
        .unwrap()
}

async fn body(resp: aauth_agent::AgentResponse) -> (u16, Value) {
    let status = resp.status();
    let v = resp.response.json().await.unwrap_or(Value::Null);
    (status, v)
}

/// A GET of `url` sent by `c` within [`FLOW`] (`what` names it when it hangs): its status
/// and JSON body.
async fn get_json(what: &str, c: &AgentClient, url: &str) -> (u16, Value) {
    let resp = bounded(what, c.send(AgentRequest::get(url).unwrap()))
        .await
        .unwrap();
    body(resp).await
}

/// A GET signed by hand: `scheme` is the Signature-Key scheme, `tamper` changes the path
/// after signing.
async fn signed_get(
    base: &str,
    path: &str,
    key: &SigningKey,
    scheme: KeyScheme,
    tamper: bool,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let sk = scheme.to_header("sig1").unwrap();
    let auth = authority(base);
    let now = UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let parts = RequestParts::new("GET", &auth, path, &[]).with_scheme("http");
    let sig = sign_request(&parts, &sk, key, &SignOptions::new(now)).unwrap();
    let url = if tamper {
        format!("{base}{path}x")
    } else {
        format!("{base}{path}")
    };
    let mut req = reqwest::Client::new().get(url);
    for (n, v) in sig.iter() {
        req = req.header(n, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autonomous_flow_end_to_end() {
    init_tls();
    let t = Instant::now();
    let rt = runtime();
    println!(
        "component: {} bytes; build check + compile/link: {:?} (compile/link {:?})",
        rt.component_bytes,
        t.elapsed(),
        rt.compile_time
    );
    let dir = tempfile::tempdir().unwrap();
    let issuer = start_issuer(&dir).await;
    let agent = start_agent(1).await;
    let resource =
        start_resource(&[], &issuer, &[&authority(&issuer), &authority(&agent.id)]).await;

    // Metadata and JWKS, unauthenticated; also the first request (cold instantiate).
    let t = Instant::now();
    let meta: Value = reqwest::get(format!("{resource}/.well-known/aauth-resource"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!("first request (instantiate + metadata): {:?}", t.elapsed());
    assert_eq!(meta["resource"], resource.as_str());
    assert_eq!(meta["jwks_uri"], format!("{resource}/jwks.json"));
    let jwks: Value = reqwest::get(format!("{resource}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "resource-key-1");

    // Unsigned: challenged.
    let r = reqwest::get(format!("{resource}/data-auth")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["agent-auth"], "httpsig; identity=?1");

    // The agent: jwks identity → resource-token challenge → auth server → auth token.
    let c = client(&agent);
    let t = Instant::now();
    let resp = c
        .send(AgentRequest::get(&format!("{resource}/data-auth")).unwrap())
        .await
        .unwrap();
    let (status, v) = body(resp).await;
    println!(
        "autonomous flow (challenge + token + retry): {:?}",
        t.elapsed()
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["message"], "Access granted");
    assert_eq!(v["data"], "This is protected data (authorized)");
    assert_eq!(v["scheme"], "jwt");
    assert_eq!(v["token_type"], "auth+jwt");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["agent"], agent.id.as_str());
    assert_eq!(v["scope"], "data.read");

    // The cached auth token is reused: a warm request.
    let t = Instant::now();
    let resp = c
        .send(AgentRequest::get(&format!("{resource}/data-auth")).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    println!("second request with cached auth token: {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hwk_jwks_and_agent_token() {
    init_tls();
    let agent = start_agent(2).await;
    let resource = start_resource(&[], "http://127.0.0.1:1", &[&authority(&agent.id)]).await;

    // hwk on a signature route.
    let pseudo = AgentClient::builder(
        Arc::new(SigningKey::from_seed(&[9; 32])),
        Identity::Pseudonymous,
    )
    .build()
    .unwrap();
    let (s, v) = body(
        pseudo
            .send(AgentRequest::get(&format!("{resource}/data-hwk")).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scheme"], "hwk");
    assert_eq!(v["agent"], Value::Null);

    // hwk on an identified route: the identity challenge surfaces as an agent error.
    let err = pseudo
        .send(AgentRequest::get(&format!("{resource}/data-jwks")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, aauth_agent::AgentError::IdentityRequired { .. }),
        "{err:?}"
    );

    // jwks agent.
    let (s, v) = body(
        client(&agent)
            .send(AgentRequest::get(&format!("{resource}/data-jwks")).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scheme"], "jwks");
    assert_eq!(v["agent"], agent.id.as_str());

    // An agent delegate with an agent token.
    let delegate_key = Arc::new(SigningKey::from_seed(&[10; 32]));
    let token = agent
        .server
        .mint_agent_token(
            "delegate-1",
            delegate_key.public_jwk(),
            Duration::from_secs(300),
        )
        .unwrap();
    let d = AgentClient::builder(delegate_key, Identity::delegate(token))
        .build()
        .unwrap();
    let (s, v) = body(
        d.send(AgentRequest::get(&format!("{resource}/data-jwks")).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scheme"], "jwt");
    assert_eq!(v["token_type"], "agent+jwt");
    assert_eq!(v["agent"], agent.id.as_str());
    assert_eq!(v["agent_delegate"], "delegate-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_to_upstream_with_identity_headers() {
    init_tls();
    let agent = start_agent(3).await;
    let (l, upstream) = bind().await;
    let router = Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let pick = |n: &str| {
            headers
                .get(n)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
        };
        axum::Json(serde_json::json!({
            "agent": pick("x-aauth-agent"),
            "scheme": pick("x-aauth-scheme"),
            "sub": pick("x-aauth-sub"),
            "delegate": pick("x-aauth-delegate"),
        }))
    });
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    let resource = start_resource(
        &[("AAUTH_UPSTREAM", &upstream)],
        "http://127.0.0.1:1",
        &[&authority(&agent.id)],
    )
    .await;
    let resp = client(&agent)
        .send(
            AgentRequest::get(&format!("{resource}/data-jwks"))
                .unwrap()
                .header("x-aauth-agent", "https://spoofed.example")
                .header("x-aauth-sub", "admin"),
        )
        .await
        .unwrap();
    let (s, v) = body(resp).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["agent"], agent.id.as_str());
    assert_eq!(v["scheme"], "jwks");
    assert_eq!(v["sub"], Value::Null, "spoofed header must be stripped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_cases() {
    init_tls();
    let agent = start_agent(4).await;
    let auth_key = SigningKey::from_seed(&[5; 32]).with_kid("auth-key-1");
    let trusted = start_fake_issuer(&auth_key).await;
    let untrusted = start_fake_issuer(&auth_key).await;
    let resource = start_resource(
        &[],
        &trusted,
        &[
            &authority(&agent.id),
            &authority(&trusted),
            &authority(&untrusted),
        ],
    )
    .await;
    let signer = SigningKey::from_seed(&[6; 32]);
    let hwk = || KeyScheme::Hwk(signer.public_jwk());

    // A valid hwk request first, then a tampered one (signature over another path).
    let (s, _, _) = signed_get(&resource, "/data-hwk", &signer, hwk(), false).await;
    assert_eq!(s, 200);
    let (s, h, v) = signed_get(&resource, "/data-hwk", &signer, hwk(), true).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_signature");
    assert_eq!(h["agent-auth"], "httpsig");

    // Hostile input never panics: garbage signature headers.
    let r = reqwest::Client::new()
        .get(format!("{resource}/data-hwk"))
        .header("signature-input", "sig1=(((")
        .header("signature", "sig1=:!!:")
        .header("signature-key", "sig1=(scheme=jwt jwt=\"a.b.c\")")
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 400 | 401), "{}", r.status());
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].is_string());

    let exp = UnixTime::from_secs(4_000_000_000);
    let token = |iss: &str, aud: &str| {
        AuthClaims::new(iss, aud, signer.public_jwk(), exp)
            .with_agent(agent.id.as_str())
            .with_scope("data.read")
            .sign(&auth_key)
            .unwrap()
    };
    // A good token from the trusted (fake) issuer works...
    let (s, _, v) = signed_get(
        &resource,
        "/data-auth",
        &signer,
        KeyScheme::Jwt {
            jwt: token(&trusted, &resource),
        },
        false,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "auth+jwt");

    // ...but not for another audience...
    let (s, h, v) = signed_get(
        &resource,
        "/data-auth",
        &signer,
        KeyScheme::Jwt {
            jwt: token(&trusted, "http://other.example"),
        },
        false,
    )
    .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(h["agent-auth"], "httpsig; auth-token");

    // ...nor from an untrusted issuer.
    let (s, h, v) = signed_get(
        &resource,
        "/data-auth",
        &signer,
        KeyScheme::Jwt {
            jwt: token(&untrusted, &resource),
        },
        false,
    )
    .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(h["agent-auth"], "httpsig; auth-token");

    // Egress: an agent server that is not on the allow-list (plain http, loopback) is
    // never contacted.
    let stranger = start_agent(7).await;
    let resp = client(&stranger)
        .send(AgentRequest::get(&format!("{resource}/data-jwks")).unwrap())
        .await
        .unwrap();
    let (s, v) = body(resp).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_signature");
    assert_eq!(stranger.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfiguration_is_a_json_error() {
    init_tls();
    tokio::task::block_in_place(runtime);
    let (l, _) = bind().await;
    let base = format!("http://{}", serve(Vec::new(), l).await.unwrap());
    let r = reqwest::get(format!("{base}/data-hwk")).await.unwrap();
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "server_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_flow_end_to_end() {
    init_tls();
    let dir = tempfile::tempdir().unwrap();
    let issuer = start_issuer(&dir).await;
    let agent = start_agent(11).await;
    let resource =
        start_resource(&[], &issuer, &[&authority(&issuer), &authority(&agent.id)]).await;

    // `user.read` needs the user's consent: the agent's consent hook logs in as testuser
    // and grants on the issuer's HTML form; the code is exchanged for the auth token.
    let c = AgentClient::builder(Arc::clone(&agent.key), Identity::agent_server(&agent.id))
        .consent(FormConsent::new("testuser", "testpass"))
        .timeout(Duration::from_secs(30))
        .trace(true)
        .build()
        .unwrap();
    let resp = bounded(
        "consent flow",
        c.send(AgentRequest::get(&format!("{resource}/data-user")).unwrap()),
    )
    .await
    .unwrap();
    let trace = resp.trace.clone().unwrap();
    let (status, v) = body(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "auth+jwt");
    assert_eq!(v["scope"], "user.read");
    assert_eq!(v["agent"], agent.id.as_str());
    assert!(v["sub"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(trace.steps(Step::Consent).count(), 1, "{trace}");

    // Denied on the form: the agent gets access_denied, the resource nothing.
    let deny = AgentClient::builder(Arc::clone(&agent.key), Identity::agent_server(&agent.id))
        .consent(FormConsent::new("testuser", "testpass").deny())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let err = bounded(
        "denied consent",
        deny.send(AgentRequest::get(&format!("{resource}/data-user")).unwrap()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_code(), Some("access_denied"), "{err}");
    assert_eq!(err.step(), Some(Step::Consent));

    // `data.read` needs no consent from the same issuer: no consent step.
    let resp = bounded(
        "autonomous after consent",
        c.send(AgentRequest::get(&format!("{resource}/data-auth")).unwrap()),
    )
    .await
    .unwrap();
    let trace = resp.trace.clone().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(trace.steps(Step::Consent).count(), 0, "{trace}");
}

/// A loopback server that accepts connections and never answers; counts them.
async fn start_silent() -> (String, Arc<AtomicUsize>) {
    let (l, base) = bind().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    (base, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_servers_time_out() {
    init_tls();
    let (silent, accepted) = start_silent().await;
    let (silent_upstream, upstream_accepted) = start_silent().await;
    let agent = start_agent(12).await;
    let resource = start_resource(
        &[
            ("AAUTH_FETCH_TIMEOUT", "1"),
            ("AAUTH_UPSTREAM", &silent_upstream),
            ("AAUTH_UPSTREAM_TIMEOUT", "1"),
        ],
        "http://127.0.0.1:1",
        &[
            &authority(&silent),
            &authority(&agent.id),
            &authority(&silent_upstream),
        ],
    )
    .await;

    // An agent whose metadata server never answers: the component gives up on the key
    // after AAUTH_FETCH_TIMEOUT and refuses the signature, instead of hanging.
    let key = Arc::new(SigningKey::from_seed(&[13; 32]).with_kid("key-1"));
    let c = AgentClient::builder(key, Identity::agent_server(&silent))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (s, v) = get_json("silent key server", &c, &format!("{resource}/data-jwks")).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_signature");
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the fetch was attempted"
    );

    // A verified request whose upstream never answers: 504.
    let (s, v) = get_json(
        "silent upstream",
        &client(&agent),
        &format!("{resource}/data-jwks"),
    )
    .await;
    assert_eq!(s, 504, "{v}");
    assert_eq!(v["error"], "server_error");
    assert!(upstream_accepted.load(Ordering::SeqCst) >= 1);
}

// ---- the Python reference agent ---------------------------------------------------------

/// The Python agent on a free port; killed on drop.
fn start_py_agent() -> Peer {
    let harness = Harness::from_env();
    // Idempotent: creates the reference virtualenv only when it is missing.
    tokio::task::block_in_place(|| {
        harness.setup()?;
        harness.peer("agent", "AGENT_PORT").start()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Drives the Python agent's whole flow; returns its trace's last resource answer.
async fn py_request(http: &reqwest::Client, agent: &Peer, url: &str, scheme: &str) -> Value {
    let v: Value = http
        .post(format!("{}/request", agent.url()))
        .json(&serde_json::json!({"resource_url": url, "sig_scheme": scheme}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "python agent → {url} ({scheme}): {v:#}");
    v["trace"]
        .as_array()
        .and_then(|t| t.last())
        .map_or(Value::Null, |l| l["body"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reference_agent_autonomous() {
    if skip_requested("python_reference_agent_autonomous") {
        return;
    }
    init_tls();
    let http = reqwest::Client::builder().timeout(FLOW).build().unwrap();
    let py = start_py_agent();
    let dir = tempfile::tempdir().unwrap();
    let issuer = start_issuer(&dir).await;
    let resource = start_resource(&[], &issuer, &[&authority(&issuer), &authority(py.url())]).await;

    // jwks identity → resource-token challenge → our issuer → auth token → retry.
    let b = py_request(&http, &py, &format!("{resource}/data-auth"), "jwks").await;
    assert_eq!(b["message"], "Access granted", "{b}");
    assert_eq!(b["scheme"], "jwt");
    assert_eq!(b["token_type"], "auth+jwt");
    assert_eq!(b["agent"], py.url());
    assert_eq!(b["scope"], "data.read");

    // A pseudonymous hwk signature on a signature route.
    let b = py_request(&http, &py, &format!("{resource}/data-hwk"), "hwk").await;
    assert_eq!(b["scheme"], "hwk", "{b}");
    assert_eq!(b["agent"], Value::Null);
}

/// The `spin` build (what `spin.toml` builds) takes its configuration from Spin's
/// variables interface, which this host serves from a map as Spin does from application
/// variables; a variable Spin does not define falls back to the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_variables_build_reads_spin_variables() {
    init_tls();
    let rt = tokio::task::block_in_place(spin_runtime);
    let dir = tempfile::tempdir().unwrap();
    let issuer = start_issuer(&dir).await;
    let agent = start_agent(14).await;
    let (l, resource) = bind().await;
    let vars = [
        ("resource_id", resource.as_str()),
        ("auth_servers", issuer.as_str()),
        ("routes", ROUTES),
        ("resource_key_seed", SEED),
        (
            "egress_allow",
            &format!("{},{}", authority(&issuer), authority(&agent.id)),
        ),
        ("resource_key_id", ""),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let env = vec![(
        "AAUTH_RESOURCE_KEY_ID".to_owned(),
        "key-from-env".to_owned(),
    )];
    serve_with(
        rt,
        env,
        vars,
        KvBackend::new(&["default"]),
        GuestClock::default(),
        l,
    )
    .await
    .unwrap();

    let meta: Value = reqwest::get(format!("{resource}/.well-known/aauth-resource"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], resource.as_str());
    let jwks: Value = reqwest::get(format!("{resource}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"], "key-from-env",
        "empty Spin variable → environment"
    );

    let (s, v) = get_json(
        "autonomous flow, spin build",
        &client(&agent),
        &format!("{resource}/data-auth"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "auth+jwt");
    assert_eq!(v["scope"], "data.read");
}

// ---- the key-value cache of the `spin` build ---------------------------------------------

/// Starts the `spin` build configured through the environment only (every Spin variable
/// undefined), with `kv` behind its key-value stores and `clock` as its wall clock;
/// returns its base URL.
async fn start_spin_resource(agent: &Agent, kv: Arc<KvBackend>, clock: GuestClock) -> String {
    let rt = tokio::task::block_in_place(spin_runtime);
    let (l, id) = bind().await;
    let env = [
        ("AAUTH_RESOURCE_ID", id.as_str()),
        ("AAUTH_AUTH_SERVERS", "http://127.0.0.1:1"),
        ("AAUTH_ROUTES", ROUTES),
        ("AAUTH_RESOURCE_KEY_SEED", SEED),
        ("AAUTH_EGRESS_ALLOW", &authority(&agent.id)),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    serve_with(rt, env, Vec::new(), kv, clock, l).await.unwrap();
    id
}

/// One `jwks`-scheme request (the agent's metadata and JWKS are needed) to `/data-jwks`.
async fn jwks_request(agent: &Agent, resource: &str) -> (u16, Value) {
    jwks_request_at(agent, resource, &GuestClock::default()).await
}

/// [`jwks_request`] signed at the time `clock` shows.
async fn jwks_request_at(agent: &Agent, resource: &str, clock: &GuestClock) -> (u16, Value) {
    get_json(
        "jwks request",
        &client_at(agent, clock),
        &format!("{resource}/data-jwks"),
    )
    .await
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The expiry of a stored entry (`aauth-spin-kv 1\n<expiry>\n<url>\n<document>`, see
/// hosts/spin/src/kv.rs), and the entry with its expiry replaced.
fn expiry(value: &[u8]) -> u64 {
    let mut lines = value.splitn(3, |b| *b == b'\n');
    assert_eq!(lines.next(), Some(&b"aauth-spin-kv 1"[..]));
    std::str::from_utf8(lines.next().unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

fn with_expiry(value: &[u8], exp: u64) -> Vec<u8> {
    let mut lines = value.splitn(3, |b| *b == b'\n');
    let magic = lines.next().unwrap();
    let _old = lines.next().unwrap();
    let rest = lines.next().unwrap();
    [magic, b"\n", exp.to_string().as_bytes(), b"\n", rest].concat()
}

/// With a fresh instance per request, the `spin` build's key-value cache carries the
/// agent's metadata and JWKS from one instance to the next: the second request makes no
/// fetch. Expired entries, entries that claim to outlive the TTL, and corrupt or
/// oversized ones are not used: the document is fetched again and the entry rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_kv_caches_keys_across_instances() {
    init_tls();
    let agent = start_agent(15).await;
    let kv = KvBackend::new(&["default"]);
    let resource = start_spin_resource(&agent, Arc::clone(&kv), GuestClock::default()).await;
    let fetches = || agent.hits.load(Ordering::SeqCst);

    // First request: metadata + JWKS fetched, both stored.
    let (s, v) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scheme"], "jwks");
    assert_eq!(v["agent"], agent.id.as_str());
    assert_eq!(fetches(), 2);
    let entries = kv.entries("default");
    assert_eq!(entries.len(), 2, "metadata and JWKS stored");
    assert_eq!(kv.sets.load(Ordering::SeqCst), 2);
    let now = unix_now();
    for (_, value) in &entries {
        let exp = expiry(value);
        assert!(exp > now && exp <= now + 300 + 1, "expiry {exp}, now {now}");
    }

    // Second request, another fresh instance: no fetch at all, both documents from KV.
    let (s, v) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), 2, "the second request must not fetch keys");
    assert_eq!(kv.found.load(Ordering::SeqCst), 2);
    assert_eq!(kv.sets.load(Ordering::SeqCst), 2);

    // Past their expiry: fetched again, and the entries rewritten with a fresh expiry.
    let now = unix_now();
    for (key, value) in &entries {
        kv.insert("default", key, with_expiry(value, now - 1));
    }
    let (s, v) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), 4, "expired entries are refetched");
    for (_, value) in kv.entries("default") {
        assert!(expiry(&value) > now);
    }

    // An expiry beyond now + AAUTH_CACHE_TTL (300 s) is not trusted either.
    for (key, value) in kv.entries("default") {
        kv.insert("default", &key, with_expiry(&value, now + 100_000));
    }
    let (s, v) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), 6, "an entry outliving the TTL is refetched");

    // Corrupt and oversized entries are ignored and overwritten.
    let [(meta_key, _), (jwks_key, jwks_value)] =
        <[_; 2]>::try_from(kv.entries("default")).unwrap();
    kv.insert("default", &meta_key, b"not an entry".to_vec());
    let mut oversized = jwks_value.clone();
    oversized.extend(std::iter::repeat_n(b' ', 200 * 1024));
    kv.insert("default", &jwks_key, oversized);
    let (s, v) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), 8, "corrupt entries are refetched");
    for (_, value) in kv.entries("default") {
        assert!(value.len() < 64 * 1024, "rewritten: {} bytes", value.len());
        assert!(expiry(&value) > now);
    }
    let (s, _) = jwks_request(&agent, &resource).await;
    assert_eq!(s, 200);
    assert_eq!(fetches(), 8, "served from the rewritten entries");
}

/// The `spin` build in a runtime that grants it no key-value store (`open` fails, as in an
/// application without `key_value_stores`): requests still succeed, each instance
/// fetching for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_build_without_a_store_still_serves() {
    init_tls();
    let agent = start_agent(16).await;
    let kv = KvBackend::new(&[]);
    let resource = start_spin_resource(&agent, Arc::clone(&kv), GuestClock::default()).await;
    for round in 1..=2 {
        let (s, v) = jwks_request(&agent, &resource).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["scheme"], "jwks");
        assert_eq!(agent.hits.load(Ordering::SeqCst), 2 * round);
    }
    assert!(kv.refused.load(Ordering::SeqCst) >= 2);
    assert_eq!(kv.opens.load(Ordering::SeqCst), 0);
    assert!(kv.entries("default").is_empty());
}

/// A JWKS served with `Cache-Control: max-age=90`, below `AAUTH_CACHE_TTL` (300 s), is kept
/// for 90 s only: once that has passed, the next instance finds its key-value entry expired
/// and fetches it again, while the agent's metadata, served without `Cache-Control`, stays
/// cached for the whole TTL. Time is stepped by hand, nothing sleeps: the component's wall
/// clock is moved forward, and the agent's with it (it signs `created`, which the component
/// checks against its own clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_kv_honours_cache_control_max_age() {
    init_tls();
    let agent = start_agent_with(17, Some("public, max-age=90")).await;
    let kv = KvBackend::new(&["default"]);
    let clock = GuestClock::default();
    let resource = start_spin_resource(&agent, Arc::clone(&kv), clock.clone()).await;
    // (every fetch, JWKS fetches)
    let fetches = || {
        (
            agent.hits.load(Ordering::SeqCst),
            agent.jwks_hits.load(Ordering::SeqCst),
        )
    };

    let (s, v) = jwks_request_at(&agent, &resource, &clock).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), (2, 1), "metadata and JWKS fetched");
    // The stored expiries: the JWKS's max-age, the metadata's TTL.
    let now = clock.now().as_secs();
    let mut left: Vec<u64> = kv
        .entries("default")
        .iter()
        .map(|(_, value)| expiry(value).saturating_sub(now))
        .collect();
    left.sort_unstable();
    assert!(
        matches!(left[..], [80..=90, 290..=300]),
        "seconds left: {left:?}"
    );

    // 80 s later both are still fresh: nothing fetched.
    clock.advance(Duration::from_secs(80));
    let (s, v) = jwks_request_at(&agent, &resource, &clock).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fetches(), (2, 1), "within the max-age nothing is fetched");

    // 100 s after the fetch: the JWKS's max-age has passed, the metadata's TTL has not.
    clock.advance(Duration::from_secs(20));
    let (s, v) = jwks_request_at(&agent, &resource, &clock).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        fetches(),
        (3, 2),
        "the JWKS is fetched again after its max-age, the metadata is not"
    );
}
