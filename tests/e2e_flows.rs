//! End-to-end proof for the native hosts (issue 3): our agent client and agent server
//! (`aauth-agent`), two auth servers (`aauth-issuer` over temporary SQLite), two resources
//! (`aauth-tower`) and a Keycloak-style third-party auth server stand-in, all on loopback
//! with real sockets. Every flow is bounded by a timeout; all parties share one manual
//! clock so time can be moved by hand (refresh, expiry).
//!
//! Topology (digest §2.8, python reference notes §6–7):
//! - agent server: metadata, JWKS, `/callback` (our `AgentServer` router);
//! - issuer 1: user `testuser:testpass`, consent for `user.*`;
//! - issuer 2: trusts issuer 1 for `request_type=exchange`;
//! - resource 1 (auth server issuer 1): `/data-auth` (`data.read data.write`), `/data-user`
//!   (`user.read`), `/data-chain` (`user.read`, then calls resource 2 with token exchange);
//! - resource 2 (auth server issuer 2): `/data-auth`;
//! - resource 3: metadata only, a second audience of issuer 1 (wrong-`aud` tests);
//! - a Keycloak-laid-out realm (`/realms/demo`, RS256 realm key from
//!   `vectors/keycloak/`) and a resource trusting it (Keycloak test only).
//!
//! `/data-chain` requires `user.read` so the caller's token carries a `sub` to keep.
//! Error answers are checked by status, `error` code and a phrase of
//! `error_description`, so each negative test fails for the reason it names.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aauth_agent::consent::ConsentHook;
use aauth_agent::{
    AgentClient, AgentRequest, AgentResponse, AgentServer, Clock as AgentClock, ConsentRequest,
    FormConsent, Identity, Step, Trace,
};
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::{
    Jwk, KeyScheme, RequestParts, ResourceClaims, SignatureKey, Signer as _, SigningKey, UnixTime,
};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{Clock as IssuerClock, IssuerConfig, ManualClock, serve};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The wall-clock budget of one flow.
const FLOW: Duration = Duration::from_secs(30);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(FLOW, f).await.expect("flow timed out")
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    (l, base)
}

fn spawn_router(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
}

/// The shared time source of every party, frozen at the system time at start.
type SharedClock = Arc<ManualClock>;

fn now(clock: &SharedClock) -> UnixTime {
    IssuerClock::now(clock.as_ref())
}

/// A cookie-keeping, non-redirecting client (a scripted browser).
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

// ---- the parties ------------------------------------------------------------------------

const R_SCOPES: [&str; 2] = ["data.read", "data.write"];

async fn start_issuer(
    listener: TcpListener,
    id: &str,
    db: &Path,
    clock: &SharedClock,
    with_user: bool,
    tune: impl FnOnce(IssuerConfig) -> IssuerConfig,
) {
    let store = SqliteStore::open(db).await.expect("sqlite");
    if with_user {
        store
            .create_user("testuser", &hash_password("testpass").expect("hash"), 0)
            .await
            .expect("user");
    }
    let discovery = Discovery::new(EgressPolicy::dev()).expect("discovery");
    let clock: Arc<dyn IssuerClock> = clock.clone();
    let config = tune(
        IssuerConfig::new(id, discovery)
            .expect("issuer config")
            .with_clock(clock),
    );
    tokio::spawn(async move {
        serve(config, store, listener, std::future::pending::<()>())
            .await
            .expect("issuer");
    });
}

fn resource_config(
    id: &str,
    key: SigningKey,
    auth_servers: &[&str],
    clock: &SharedClock,
) -> ResourceConfig<Discovery> {
    let discovery = Discovery::new(EgressPolicy::dev()).expect("discovery");
    let c = clock.clone();
    let mut b = ResourceConfig::builder(id, key, discovery)
        .supported_scopes(["data.read", "data.write", "user.read"])
        .clock(move || IssuerClock::now(c.as_ref()));
    for a in auth_servers {
        b = b.auth_server(*a);
    }
    b.build().expect("resource config")
}

/// The reference resource's 200 body, from what the middleware verified.
fn seed_json(method: &Method, agent: &VerifiedAgent) -> Value {
    json!({
        "message": "Access granted",
        "data": "This is protected data (authorized)",
        "scheme": agent.scheme(),
        "token_type": agent.token_type(),
        "method": method.as_str(),
        "agent": agent.agent(),
        "agent_delegate": agent.agent_delegate(),
        "scope": agent.scope(),
        "sub": agent.sub(),
        "act": agent.act(),
    })
}

async fn seed(method: Method, agent: VerifiedAgent) -> axum::Json<Value> {
    axum::Json(seed_json(&method, &agent))
}

#[derive(Clone)]
struct Downstream {
    client: AgentClient,
    url: String,
}

/// `/data-chain`: the caller's auth token (from its `Signature-Key`) is exchanged at the
/// downstream resource's auth server, and the downstream answer is relayed.
async fn chain(
    State(d): State<Downstream>,
    method: Method,
    headers: HeaderMap,
    agent: VerifiedAgent,
) -> Response {
    let Some(upstream) = agent.presented_auth_token(&headers) else {
        return (StatusCode::BAD_REQUEST, "no auth token").into_response();
    };
    let request = match AgentRequest::get(&d.url) {
        Ok(r) => r.upstream_token(upstream),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match d.client.send(request).await {
        Ok(res) => {
            let status = res.status();
            let token = res.trace.as_ref().map(presented_token);
            let body = res.response.bytes().await.unwrap_or_default();
            let downstream: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            axum::Json(json!({
                "upstream": seed_json(&method, &agent),
                "downstream_status": status,
                "downstream": downstream,
                "downstream_token": token,
            }))
            .into_response()
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({ "error": e.error_code(), "error_description": e.to_string() })),
        )
            .into_response(),
    }
}

fn resource_key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32]).with_kid("resource-key-1")
}

struct World {
    _dir: tempfile::TempDir,
    clock: SharedClock,
    http: reqwest::Client,
    agent_id: String,
    agent_key: Arc<SigningKey>,
    agent_server: AgentServer,
    issuer1: String,
    issuer2: String,
    r1: String,
    r1_cfg: ResourceConfig<Discovery>,
    r2: String,
    r2_cfg: ResourceConfig<Discovery>,
    r3: String,
}

impl World {
    async fn start() -> Self {
        let http = browser();
        let dir = tempfile::tempdir().expect("tempdir");
        let clock: SharedClock = Arc::new(ManualClock::from_system());
        let c = clock.clone();
        let agent_clock = AgentClock::from_fn(move || IssuerClock::now(c.as_ref()));

        let (agent_l, agent_id) = bind().await;
        let (i1_l, issuer1) = bind().await;
        let (i2_l, issuer2) = bind().await;
        let (r1_l, r1) = bind().await;
        let (r2_l, r2) = bind().await;
        let (r3_l, r3) = bind().await;

        // Agent server.
        let agent_key = Arc::new(SigningKey::from_seed(&[1; 32]).with_kid("key-1"));
        let agent_server =
            AgentServer::new(&agent_id, Arc::clone(&agent_key)).with_clock(agent_clock);
        spawn_router(agent_l, agent_server.router());

        // Auth servers.
        start_issuer(
            i1_l,
            &issuer1,
            &dir.path().join("i1.db"),
            &clock,
            true,
            |c| c,
        )
        .await;
        let trusted = issuer1.clone();
        start_issuer(
            i2_l,
            &issuer2,
            &dir.path().join("i2.db"),
            &clock,
            false,
            |c| c.with_trusted_upstreams([trusted]),
        )
        .await;

        // Resource 2 (auth server issuer 2).
        let r2_cfg = resource_config(&r2, resource_key(22), &[&issuer2], &clock);
        let app2 = Router::new()
            .route(
                "/data-auth",
                get(seed).layer(r2_cfg.require(Requirement::auth_token(R_SCOPES))),
            )
            .merge(r2_cfg.metadata_router());
        spawn_router(r2_l, app2);

        // Resource 1 (auth server issuer 1), calling resource 2 as an agent.
        let r1_cfg = resource_config(&r1, resource_key(21), &[&issuer1], &clock);
        let c = clock.clone();
        let downstream = Downstream {
            client: AgentClient::builder(Arc::new(resource_key(21)), Identity::resource(&r1))
                .clock(AgentClock::from_fn(move || IssuerClock::now(c.as_ref())))
                .timeout(Duration::from_secs(10))
                .trace(true)
                .build()
                .expect("downstream client"),
            url: format!("{r2}/data-auth"),
        };
        let app1 = Router::new()
            .route(
                "/data-auth",
                get(seed)
                    .post(seed)
                    .layer(r1_cfg.require(Requirement::auth_token(R_SCOPES))),
            )
            .route(
                "/data-user",
                get(seed).layer(r1_cfg.require(Requirement::auth_token(["user.read"]))),
            )
            .route(
                "/data-chain",
                get(chain).layer(r1_cfg.require(Requirement::auth_token(["user.read"]))),
            )
            .with_state(downstream)
            .merge(r1_cfg.metadata_router());
        spawn_router(r1_l, app1);

        // Resource 3: only its metadata and JWKS (another audience of issuer 1).
        let r3_cfg = resource_config(&r3, resource_key(23), &[&issuer1], &clock);
        spawn_router(r3_l, r3_cfg.metadata_router());

        Self {
            _dir: dir,
            clock,
            http,
            agent_id,
            agent_key,
            agent_server,
            issuer1,
            issuer2,
            r1,
            r1_cfg,
            r2,
            r2_cfg,
            r3,
        }
    }

    fn now(&self) -> UnixTime {
        now(&self.clock)
    }

    fn agent_clock(&self) -> AgentClock {
        let c = self.clock.clone();
        AgentClock::from_fn(move || IssuerClock::now(c.as_ref()))
    }

    /// The agent-server client (`scheme=jwks`), tracing every hop.
    fn agent(&self) -> aauth_agent::AgentClientBuilder {
        AgentClient::builder(
            Arc::clone(&self.agent_key),
            Identity::agent_server(&self.agent_id),
        )
        .clock(self.agent_clock())
        .timeout(Duration::from_secs(10))
        .trace(true)
    }

    fn jwks_header(&self) -> String {
        KeyScheme::Jwks(JwksRef::Id {
            id: self.agent_id.clone(),
            kid: "key-1".into(),
            well_known: Some("aauth-agent".into()),
        })
        .to_header("sig1")
        .expect("header")
    }

    fn agent_jkt(&self) -> String {
        self.agent_key.public_jwk().thumbprint().expect("jkt")
    }

    fn callback(&self) -> String {
        self.agent_server.redirect_uri()
    }

    /// A resource token minted by hand with `key` (the resource's own key).
    fn resource_token(&self, key: &SigningKey, iss: &str, aud: &str, scope: &str) -> String {
        ResourceClaims::with_scope(
            iss,
            aud,
            &self.agent_id,
            self.agent_jkt(),
            scope,
            self.now().saturating_add(300),
        )
        .sign(key)
        .expect("resource token")
    }

    /// `POST {issuer}/agent/token` signed by the agent server.
    async fn token_call(&self, issuer: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let resp = signed(
            &self.http,
            "POST",
            &format!("{issuer}/agent/token"),
            Some(&body),
            &self.jwks_header(),
            &self.agent_key,
            self.now(),
            false,
        )
        .await;
        status_json(resp).await
    }

    /// `request_type=auth` for a `user.read` resource token of resource 1: the
    /// `request_token` that asks for consent.
    async fn request_token(&self) -> String {
        let rt = self.resource_token(&resource_key(21), &self.r1, &self.issuer1, "user.read");
        let cb = self.callback();
        let (status, v) = self
            .token_call(
                &self.issuer1,
                &[
                    ("request_type", "auth"),
                    ("resource_token", &rt),
                    ("redirect_uri", &cb),
                ],
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert!(v.get("auth_token").is_none(), "consent must be asked: {v}");
        v["request_token"]
            .as_str()
            .expect("request_token")
            .to_owned()
    }

    /// Drives the issuer's HTML consent form with a fresh cookie jar: GET the page, log
    /// in, decide. Returns the final `303` `Location`.
    async fn drive_consent(&self, request_token: &str, redirect_uri: &str, grant: bool) -> String {
        let b = browser();
        let page = format!("{}/agent/auth", self.issuer1);
        let r = b
            .get(&page)
            .query(&[
                ("request_token", request_token),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .expect("GET consent page");
        assert_eq!(r.status(), 200);
        let r = b
            .post(&page)
            .form(&[
                ("request_token", request_token),
                ("redirect_uri", redirect_uri),
                ("action", "login"),
                ("username", "testuser"),
                ("password", "testpass"),
            ])
            .send()
            .await
            .expect("POST login");
        assert_eq!(r.status(), 303, "login");
        let decision = if grant { "grant" } else { "deny" };
        let r = b
            .post(&page)
            .form(&[
                ("request_token", request_token),
                ("redirect_uri", redirect_uri),
                ("consent", decision),
            ])
            .send()
            .await
            .expect("POST consent");
        assert_eq!(r.status(), 303, "consent");
        r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    }
}

/// Signs (`sig1`, RFC 9421 profile) and sends a request; `tamper` flips one character of
/// the signature after signing.
#[allow(clippy::too_many_arguments)]
async fn signed(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<&str>,
    signature_key: &str,
    key: &SigningKey,
    created: UnixTime,
    tamper: bool,
) -> reqwest::Response {
    let u = url::Url::parse(url).expect("url");
    let authority = format!(
        "{}:{}",
        u.host_str().expect("host"),
        u.port().expect("port")
    );
    let target = &u[url::Position::BeforePath..url::Position::AfterQuery];
    let ct = b"application/x-www-form-urlencoded".as_slice();
    let headers: Vec<(&str, &[u8])> = if body.is_some() {
        vec![("content-type", ct)]
    } else {
        Vec::new()
    };
    let mut parts = RequestParts::new(method, &authority, target, &headers).with_scheme("http");
    if let Some(b) = body {
        parts = parts.with_body(b.as_bytes());
    }
    let sig = sign_request(&parts, signature_key, key, &SignOptions::new(created)).expect("sign");
    let mut rb = http.request(method.parse().expect("method"), url);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b.to_owned());
    }
    for (n, v) in sig.iter() {
        let v = if tamper && n.eq_ignore_ascii_case("signature") {
            flip_middle(v)
        } else {
            v.to_owned()
        };
        rb = rb.header(n, v);
    }
    rb.send().await.expect("send")
}

fn flip_middle(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes))),
    )
}

async fn body_json(res: AgentResponse) -> (u16, Value) {
    status_json(res.response).await
}

fn token_steps(trace: &Trace) -> Vec<String> {
    trace
        .hops
        .iter()
        .filter(|h| matches!(h.step, Step::Token(_)))
        .map(|h| h.step.to_string())
        .collect()
}

/// The compact auth token the final (retried) resource request presented.
fn presented_token(trace: &Trace) -> String {
    let hop = trace.hops.last().expect("hops");
    let sk = hop
        .signature_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("signature-key"))
        .map(|(_, v)| v.clone())
        .expect("signature-key");
    match SignatureKey::parse(&sk).expect("parse").scheme {
        KeyScheme::Jwt { jwt } => jwt,
        other => panic!("not a token: {other:?}"),
    }
}

/// Asserts an error answer: status, `error` code, and a phrase of `error_description`.
fn expect_error(answer: &(u16, Value), status: u16, code: &str, phrase: &str) {
    let (s, v) = answer;
    assert_eq!((*s, v["error"].as_str()), (status, Some(code)), "{v}");
    let description = v["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(phrase), "{phrase:?} not in {v}");
}

fn jwt_payload(token: &str) -> Value {
    let p = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&B64.decode(p).expect("b64")).expect("json")
}

// ---- the flows --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autonomous_challenge_then_auth_token() {
    bounded(async {
        let w = World::start().await;
        let client = w.agent().build().unwrap();
        let res = client
            .send(AgentRequest::get(&format!("{}/data-auth", w.r1)).unwrap())
            .await
            .unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["agent"], w.agent_id);
        assert_eq!(body["scope"], "data.read data.write");
        assert_eq!(body["scheme"], "jwt");
        assert_eq!(body["token_type"], "auth+jwt");
        assert_eq!(body["sub"], Value::Null, "autonomous: no user");
        // resource (401 challenge) → issuer metadata → token[auth] → retry (200).
        let steps: Vec<(String, Option<u16>)> = trace
            .hops
            .iter()
            .map(|h| (h.step.to_string(), h.status))
            .collect();
        assert_eq!(
            steps,
            [
                ("resource".to_owned(), Some(401)),
                ("issuer-metadata".to_owned(), Some(200)),
                ("token[auth]".to_owned(), Some(200)),
                ("retry".to_owned(), Some(200)),
            ]
        );
        let token = jwt_payload(&presented_token(&trace));
        assert_eq!(token["iss"], w.issuer1);
        assert_eq!(token["aud"], w.r1);
        let cnf: Jwk = serde_json::from_value(token["cnf"]["jwk"].clone()).unwrap();
        assert_eq!(
            cnf.thumbprint().unwrap(),
            w.agent_jkt(),
            "cnf.jwk is the agent key"
        );

        // A POST with a body (Content-Digest covered) with the cached token.
        let res = client
            .send(
                AgentRequest::post(
                    &format!("{}/data-auth", w.r1),
                    "application/json",
                    r#"{"q":1}"#,
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let hops = res.trace.as_ref().unwrap().hops.len();
        let (status, body) = body_json(res).await;
        assert_eq!((status, hops), (200, 1), "{body}");
        assert_eq!(body["method"], "POST");

        // The cached token is reused: one request, no new challenge.
        let res = client
            .send(AgentRequest::get(&format!("{}/data-auth", w.r1)).unwrap())
            .await
            .unwrap();
        let hops = res.trace.as_ref().unwrap().hops.len();
        assert_eq!((res.status(), hops), (200, 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_consent_through_the_html_form() {
    bounded(async {
        let w = World::start().await;
        let client = w
            .agent()
            .consent(FormConsent::new("testuser", "testpass"))
            .build()
            .unwrap();
        let res = client
            .send(AgentRequest::get(&format!("{}/data-user", w.r1)).unwrap())
            .await
            .unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "user.read");
        assert_eq!(body["agent"], w.agent_id);
        assert!(
            body["sub"].as_str().is_some_and(|s| !s.is_empty()),
            "{body}"
        );
        assert_eq!(token_steps(&trace), ["token[auth]", "token[code]"]);
        assert_eq!(trace.steps(Step::Consent).count(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_consent_denied_reaches_the_client() {
    bounded(async {
        let w = World::start().await;
        let client = w
            .agent()
            .consent(FormConsent::new("testuser", "testpass").deny())
            .build()
            .unwrap();
        let err = client
            .send(AgentRequest::get(&format!("{}/data-user", w.r1)).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.error_code(), Some("access_denied"), "{err}");
        assert_eq!(err.step(), Some(Step::Consent));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_with_act_across_two_auth_servers() {
    bounded(async {
        let w = World::start().await;
        let client = w
            .agent()
            .consent(FormConsent::new("testuser", "testpass"))
            .build()
            .unwrap();
        let res = client
            .send(AgentRequest::get(&format!("{}/data-chain", w.r1)).unwrap())
            .await
            .unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        let sub = body["upstream"]["sub"]
            .as_str()
            .expect("upstream sub")
            .to_owned();
        assert_eq!(body["upstream"]["agent"], w.agent_id);
        assert_eq!(body["downstream_status"], 200, "{body}");
        let down = &body["downstream"];
        // Resource 2 accepted a token from issuer 2: the requester is resource 1, acting
        // for the original agent, on behalf of the same user.
        assert_eq!(down["agent"], w.r1, "{down}");
        assert_eq!(down["token_type"], "auth+jwt");
        assert_eq!(down["scope"], "data.read data.write");
        assert_eq!(down["sub"], sub.as_str(), "sub kept across the exchange");
        assert_eq!(down["act"]["agent"], w.agent_id, "{down}");
        // L§9.10 wants `act.sub` only when it differs from `sub`; the reference (and our
        // issuer) copy the upstream `sub` anyway. Either way it must not name someone else.
        assert!(
            down["act"]["sub"].is_null() || down["act"]["sub"] == sub.as_str(),
            "{down}"
        );
        // The exchanged token itself (L-26): issuer 2, for resource 2, bound to resource
        // 1's key, with sub, act, iat and nbf.
        let t = jwt_payload(body["downstream_token"].as_str().expect("token"));
        assert_eq!(t["iss"], w.issuer2);
        assert_eq!(t["aud"], w.r2);
        assert_eq!(t["agent"], w.r1);
        assert_eq!(t["sub"], sub.as_str());
        assert_eq!(t["act"]["agent"], w.agent_id);
        let cnf: Jwk = serde_json::from_value(t["cnf"]["jwk"].clone()).unwrap();
        assert_eq!(
            cnf.thumbprint().unwrap(),
            resource_key(21).public_jwk().thumbprint().unwrap()
        );
        for claim in ["exp", "iat", "nbf"] {
            assert!(t[claim].is_u64(), "{claim} missing: {t}");
        }
        // Issuer 2 issued it (resource 2 trusts only issuer 2).
        assert_eq!(w.r2_cfg.auth_servers(), std::slice::from_ref(&w.issuer2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_before_expiry_is_accepted() {
    bounded(async {
        let w = World::start().await;
        let client = w.agent().build().unwrap();
        let url = format!("{}/data-auth", w.r1);
        let res = client.send(AgentRequest::get(&url).unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        let first = presented_token(res.trace.as_ref().unwrap());
        let exp = jwt_payload(&first)["exp"].as_u64().unwrap();
        // Into the refresh margin (60 s) but not expired.
        let t = w.now().as_secs();
        w.clock.advance(exp - t - 30);

        let res = client.send(AgentRequest::get(&url).unwrap()).await.unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(token_steps(&trace), ["token[refresh]"]);
        let refresh = trace.steps(Step::Token("refresh")).next().unwrap();
        assert!(
            refresh
                .request_body
                .as_deref()
                .is_some_and(|b| b.starts_with("request_type=refresh&")),
            "{refresh:?}"
        );
        let second = presented_token(&trace);
        assert_ne!(first, second);
        assert!(jwt_payload(&second)["exp"].as_u64().unwrap() > exp);
        // Only the resource call with the new token: no challenge on the way.
        let resource_hops: Vec<_> = trace
            .hops
            .iter()
            .filter(|h| matches!(h.step, Step::Resource | Step::Retry))
            .map(|h| h.status)
            .collect();
        assert_eq!(resource_hops, [Some(200)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_delegate_with_agent_token() {
    bounded(async {
        let w = World::start().await;
        let delegate_key = Arc::new(SigningKey::from_seed(&[9; 32]));
        let agent_token = w
            .agent_server
            .mint_agent_token(
                "delegate-1",
                delegate_key.public_jwk(),
                Duration::from_secs(600),
            )
            .unwrap();
        let delegate_jkt = delegate_key.public_jwk().thumbprint().unwrap();
        let client = AgentClient::builder(delegate_key, Identity::delegate(agent_token))
            .clock(w.agent_clock())
            .timeout(Duration::from_secs(10))
            .trace(true)
            .build()
            .unwrap();
        let res = client
            .send(AgentRequest::get(&format!("{}/data-auth", w.r1)).unwrap())
            .await
            .unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["agent"], w.agent_id);
        assert_eq!(body["agent_delegate"], "delegate-1");
        assert_eq!(body["token_type"], "auth+jwt");
        // The first request presented the agent token; the auth token binds the delegate's
        // key, not the agent server's.
        let first = &trace.hops[0];
        assert_eq!((first.step, first.status), (Step::Resource, Some(401)));
        let token = jwt_payload(&presented_token(&trace));
        let cnf: Jwk = serde_json::from_value(token["cnf"]["jwk"].clone()).unwrap();
        assert_eq!(cnf.thumbprint().unwrap(), delegate_jkt);
        assert_ne!(delegate_jkt, w.agent_jkt());
    })
    .await;
}

// ---- negative paths ---------------------------------------------------------------------

/// A valid auth token of issuer 1 for resource 1, obtained by the agent client.
async fn r1_token(w: &World) -> String {
    let client = w.agent().build().unwrap();
    let res = client
        .send(AgentRequest::get(&format!("{}/data-auth", w.r1)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    presented_token(res.trace.as_ref().unwrap())
}

fn jwt_header(token: &str) -> String {
    KeyScheme::Jwt {
        jwt: token.to_owned(),
    }
    .to_header("sig1")
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_and_stale_created_are_refused() {
    bounded(async {
        let w = World::start().await;
        let token = r1_token(&w).await;
        let url = format!("{}/data-auth", w.r1);
        let sk = jwt_header(&token);

        // Control: the same request, untampered, passes.
        let r = signed(
            &w.http,
            "GET",
            &url,
            None,
            &sk,
            &w.agent_key,
            w.now(),
            false,
        )
        .await;
        assert_eq!(r.status(), 200);

        let r = signed(&w.http, "GET", &url, None, &sk, &w.agent_key, w.now(), true).await;
        let (status, v) = status_json(r).await;
        expect_error(
            &(status, v),
            401,
            "invalid_signature",
            "signature verification failed",
        );

        // A body other than the one signed: Content-Digest no longer matches.
        let authority = url::Url::parse(&w.r1).unwrap();
        let authority = format!(
            "{}:{}",
            authority.host_str().unwrap(),
            authority.port().unwrap()
        );
        let ct = [("content-type", b"application/json".as_slice())];
        let parts = RequestParts::new("POST", &authority, "/data-auth", &ct)
            .with_scheme("http")
            .with_body(br#"{"amount":1}"#);
        let sig = sign_request(
            &parts,
            &sk,
            w.agent_key.as_ref(),
            &SignOptions::new(w.now()),
        )
        .unwrap();
        let mut rb = w
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"amount":1000}"#);
        for (n, v) in sig.iter() {
            rb = rb.header(n, v);
        }
        let answer = status_json(rb.send().await.unwrap()).await;
        expect_error(
            &answer,
            401,
            "invalid_signature",
            "Content-Digest does not match the body",
        );

        let stale = UnixTime::from_secs(w.now().as_secs() - 120);
        let r = signed(&w.http, "GET", &url, None, &sk, &w.agent_key, stale, false).await;
        let (status, v) = status_json(r).await;
        expect_error(&(status, v), 401, "invalid_signature", "too old");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_audience_and_untrusted_issuer_are_refused() {
    bounded(async {
        let w = World::start().await;
        let cb = w.callback();
        let url = format!("{}/data-auth", w.r1);

        // A token of issuer 1 (trusted) for resource 3.
        let rt = w.resource_token(&resource_key(23), &w.r3, &w.issuer1, "data.read data.write");
        let (s, v) = w
            .token_call(
                &w.issuer1,
                &[
                    ("request_type", "auth"),
                    ("resource_token", &rt),
                    ("redirect_uri", &cb),
                ],
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let other_aud = v["auth_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_payload(&other_aud)["aud"], w.r3);
        let r = signed(
            &w.http,
            "GET",
            &url,
            None,
            &jwt_header(&other_aud),
            &w.agent_key,
            w.now(),
            false,
        )
        .await;
        let (status, v) = status_json(r).await;
        expect_error(&(status, v), 401, "invalid_auth_token", "audience mismatch");

        // A token for resource 1 from issuer 2, which resource 1 does not trust.
        let rt = w.resource_token(&resource_key(21), &w.r1, &w.issuer2, "data.read data.write");
        let (s, v) = w
            .token_call(
                &w.issuer2,
                &[
                    ("request_type", "auth"),
                    ("resource_token", &rt),
                    ("redirect_uri", &cb),
                ],
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let untrusted = v["auth_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_payload(&untrusted)["aud"], w.r1);
        let r = signed(
            &w.http,
            "GET",
            &url,
            None,
            &jwt_header(&untrusted),
            &w.agent_key,
            w.now(),
            false,
        )
        .await;
        let (status, v) = status_json(r).await;
        expect_error(&(status, v), 401, "invalid_auth_token", "is not trusted");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_replay_and_redirect_mismatch_are_invalid_grant() {
    bounded(async {
        let w = World::start().await;
        let cb = w.callback();

        // Replay: one code, redeemed twice.
        let rt = w.request_token().await;
        let location = w.drive_consent(&rt, &cb, true).await;
        let code = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code in redirect");
        assert!(location.starts_with(&format!("{cb}?")), "{location}");
        let redeem = [
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ];
        let (s, v) = w.token_call(&w.issuer1, &redeem).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            jwt_payload(v["auth_token"].as_str().unwrap())["scope"],
            "user.read"
        );
        let (s, v) = w.token_call(&w.issuer1, &redeem).await;
        expect_error(
            &(s, v),
            400,
            "invalid_grant",
            "Invalid or expired authorization code",
        );

        // redirect_uri mismatch at redemption.
        let rt = w.request_token().await;
        let location = w.drive_consent(&rt, &cb, true).await;
        let code = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code in redirect");
        let other = format!("{}/other-callback", w.agent_id);
        let (s, v) = w
            .token_call(
                &w.issuer1,
                &[
                    ("request_type", "code"),
                    ("code", &code),
                    ("redirect_uri", &other),
                ],
            )
            .await;
        expect_error(&(s, v), 400, "invalid_grant", "redirect_uri mismatch");
        // The failed attempt burned the code: the right redirect_uri no longer redeems it.
        let redeem = [
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ];
        let (s, v) = w.token_call(&w.issuer1, &redeem).await;
        expect_error(
            &(s, v),
            400,
            "invalid_grant",
            "Invalid or expired authorization code",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_request_token_and_denied_consent() {
    bounded(async {
        let w = World::start().await;
        let cb = w.callback();

        // Denied: the redirect carries error=access_denied and no code.
        let rt = w.request_token().await;
        let location = w.drive_consent(&rt, &cb, false).await;
        let pairs: Vec<(String, String)> = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert!(location.starts_with(&format!("{cb}?")), "{location}");
        assert!(
            pairs.contains(&("error".to_owned(), "access_denied".to_owned())),
            "{location}"
        );
        assert!(!pairs.iter().any(|(k, _)| k == "code"), "{location}");

        // Expired: the request token lives 600 s.
        let rt = w.request_token().await;
        w.clock.advance(601);
        let r = browser()
            .get(format!("{}/agent/auth", w.issuer1))
            .query(&[
                ("request_token", rt.as_str()),
                ("redirect_uri", cb.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("invalid or has expired"), "{page}");
    })
    .await;
}

// ---- Keycloak-style third-party auth server (RS256) --------------------------------------

const KC_KID: &str = "keycloak-realm-rs256";

fn keycloak_key() -> (rsa::PrivateKey, Value) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vectors/keycloak/realm-rs256.private.jwk.json"
    ))
    .unwrap();
    let jwk: Value = serde_json::from_str(&text).unwrap();
    let int = |m: &str| {
        rsa::BoxedUint::from_be_slice_vartime(&B64.decode(jwk[m].as_str().unwrap()).unwrap())
    };
    let key = rsa::PrivateKey::from_p_q(int("p"), int("q"), int("e")).unwrap();
    let public = json!({
        "kty": "RSA", "kid": KC_KID, "alg": "RS256", "use": "sig",
        "n": jwk["n"], "e": jwk["e"],
    });
    (key, public)
}

#[derive(Clone)]
struct Keycloak {
    issuer: String,
    key: Arc<rsa::pkcs1v15::SigningKey<sha2::Sha256>>,
    agent_jwk: Value,
    agent_jkt: String,
    clock: SharedClock,
}

fn rs256(key: &rsa::pkcs1v15::SigningKey<sha2::Sha256>, header: &Value, payload: &Value) -> String {
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let input = format!(
        "{}.{}",
        B64.encode(serde_json::to_vec(header).unwrap()),
        B64.encode(serde_json::to_vec(payload).unwrap())
    );
    let sig = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", B64.encode(sig))
}

/// `POST /realms/demo/protocol/aauth/agent/token`: checks the resource token is for this
/// realm and bound to the known agent key (a stand-in does not need more), and answers
/// like the Keycloak extension: an RS256 auth token, `token_type` `AAuth`, 300 s.
async fn keycloak_token(State(kc): State<Keycloak>, headers: HeaderMap, body: String) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    let bad =
        |e: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response();
    if form.get("request_type").map_or("auth", String::as_str) != "auth" {
        return bad("unsupported_request_type");
    }
    let Some(rt) = form.get("resource_token") else {
        return bad("invalid_request");
    };
    let Some(claims) = rt.split('.').nth(1).and_then(|p| B64.decode(p).ok()) else {
        return bad("invalid_resource_token");
    };
    let claims: Value = serde_json::from_slice(&claims).unwrap_or_default();
    let sk = headers
        .get("signature-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if claims["aud"] != kc.issuer.as_str()
        || claims["agent_jkt"] != kc.agent_jkt.as_str()
        || !sk.contains("scheme=jwks")
    {
        return bad("invalid_resource_token");
    }
    let now = now(&kc.clock).as_secs();
    let header = json!({ "alg": "RS256", "typ": "auth+jwt", "kid": KC_KID });
    let payload = json!({
        "iss": kc.issuer,
        "aud": claims["iss"],
        "agent": claims["agent"],
        "cnf": { "jwk": kc.agent_jwk },
        "scope": claims["scope"],
        "iat": now,
        "exp": now + 300,
    });
    axum::Json(json!({
        "auth_token": rs256(&kc.key, &header, &payload),
        "expires_in": 300,
        "token_type": "AAuth",
    }))
    .into_response()
}

async fn start_keycloak(w: &World) -> String {
    let (l, base) = bind().await;
    let issuer = format!("{base}/realms/demo");
    let (private, public) = keycloak_key();
    let md = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
        "agent_token_endpoint": format!("{issuer}/protocol/aauth/agent/token"),
        "agent_auth_endpoint": format!("{issuer}/protocol/aauth/agent/auth"),
        "agent_signing_algs_supported": ["ed25519"],
        "request_types_supported": ["auth", "code", "exchange", "refresh"],
    });
    let jwks = json!({ "keys": [public] });
    let kc = Keycloak {
        issuer: issuer.clone(),
        key: Arc::new(rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private)),
        agent_jwk: serde_json::to_value(w.agent_key.public_jwk()).unwrap(),
        agent_jkt: w.agent_jkt(),
        clock: w.clock.clone(),
    };
    let router = Router::new()
        .route(
            "/realms/demo/.well-known/aauth-issuer",
            get(move || async move { axum::Json(md) }),
        )
        .route(
            "/realms/demo/protocol/openid-connect/certs",
            get(move || async move { axum::Json(jwks) }),
        )
        .route(
            "/realms/demo/protocol/aauth/agent/token",
            post(keycloak_token),
        )
        .with_state(kc);
    spawn_router(l, router);
    issuer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_style_rs256_auth_server() {
    bounded(async {
        let w = World::start().await;
        let kc = start_keycloak(&w).await;
        // The checked-in key is the one the JWK describes.
        let (private, public) = keycloak_key();
        let n = rsa::traits::PublicKeyParts::n(&private).to_be_bytes_trimmed_vartime();
        assert_eq!(B64.encode(&n), public["n"].as_str().unwrap());

        // A resource whose auth server is the Keycloak-style realm.
        let (l, rkc) = bind().await;
        let cfg = resource_config(&rkc, resource_key(24), &[&kc], &w.clock);
        let app = Router::new()
            .route(
                "/data-auth",
                get(seed).layer(cfg.require(Requirement::auth_token(R_SCOPES))),
            )
            .merge(cfg.metadata_router());
        spawn_router(l, app);

        let client = w.agent().build().unwrap();
        let url = format!("{rkc}/data-auth");
        let res = client.send(AgentRequest::get(&url).unwrap()).await.unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}\n{trace}");
        assert_eq!(body["agent"], w.agent_id);
        assert_eq!(body["scope"], "data.read data.write");
        let token = presented_token(&trace);
        let header: Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(jwt_payload(&token)["iss"], kc);
        let tr = trace.steps(Step::Token("auth")).next().unwrap();
        assert_eq!(tr.url, format!("{kc}/protocol/aauth/agent/token"));
        assert_eq!(tr.response_body.as_ref().unwrap()["token_type"], "AAuth");

        // Tampered: the payload widened, the RS256 signature kept.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims = jwt_payload(&token);
        claims["scope"] = json!("data.read data.write admin");
        parts[1] = B64.encode(serde_json::to_vec(&claims).unwrap());
        let tampered = parts.join(".");
        let r = signed(
            &w.http,
            "GET",
            &url,
            None,
            &jwt_header(&tampered),
            &w.agent_key,
            w.now(),
            false,
        )
        .await;
        let answer = status_json(r).await;
        expect_error(
            &answer,
            401,
            "invalid_auth_token",
            "JWS signature verification failed",
        );
        // The untampered token still works (same request shape).
        let r = signed(
            &w.http,
            "GET",
            &url,
            None,
            &jwt_header(&token),
            &w.agent_key,
            w.now(),
            false,
        )
        .await;
        assert_eq!(r.status(), 200);
    })
    .await;
}

// ---- warm caches ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_resources_fetch_no_keys() {
    bounded(async {
        let w = World::start().await;
        let client = w
            .agent()
            .consent(FormConsent::new("testuser", "testpass"))
            .build()
            .unwrap();
        let delegate_key = Arc::new(SigningKey::from_seed(&[9; 32]));
        let agent_token = w
            .agent_server
            .mint_agent_token(
                "delegate-1",
                delegate_key.public_jwk(),
                Duration::from_secs(600),
            )
            .unwrap();
        let delegate = AgentClient::builder(delegate_key, Identity::delegate(agent_token))
            .clock(w.agent_clock())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let chain = format!("{}/data-chain", w.r1);
        // Routes of one origin that need different grants use separate cache slots
        // (`AgentRequest::scope`); without it the slot's token would flip between the
        // user-consented and the autonomous grant on every call.
        let calls = [
            (&client, chain.clone(), "user.read"),
            (&client, format!("{}/data-auth", w.r1), ""),
            (&client, format!("{}/data-user", w.r1), "user.read"),
            (&delegate, format!("{}/data-auth", w.r1), ""),
        ];
        let get = |url: &str, scope: &str| {
            let r = AgentRequest::get(url).unwrap();
            if scope.is_empty() { r } else { r.scope(scope) }
        };
        for (c, url, scope) in &calls {
            let res = c.send(get(url, scope)).await.unwrap();
            let (status, body) = body_json(res).await;
            assert_eq!(status, 200, "{url}: {body}");
        }
        let (s1, s2) = (w.r1_cfg.fetcher().stats(), w.r2_cfg.fetcher().stats());
        assert!(s1.jwks_fetches > 0 && s2.jwks_fetches > 0, "{s1:?} {s2:?}");
        for _ in 0..3 {
            for (c, url, scope) in &calls {
                let res = c.send(get(url, scope)).await.unwrap();
                let hops = res.trace.as_ref().map_or(1, |t| t.hops.len());
                let (status, body) = body_json(res).await;
                assert_eq!((status, hops), (200, 1), "{url}: {body}");
                if *url == chain {
                    assert_eq!(body["downstream_status"], 200, "{body}");
                    assert_eq!(body["downstream"]["act"]["agent"], w.agent_id);
                }
            }
        }
        let (t1, t2) = (w.r1_cfg.fetcher().stats(), w.r2_cfg.fetcher().stats());
        assert_eq!(
            (t1.jwks_fetches, t1.metadata_fetches),
            (s1.jwks_fetches, s1.metadata_fetches),
            "resource 1 fetched keys again: {t1:?}"
        );
        assert_eq!(
            (t2.jwks_fetches, t2.metadata_fetches),
            (s2.jwks_fetches, s2.metadata_fetches),
            "resource 2 fetched keys again: {t2:?}"
        );
        // Warm requests are answered from caches: a repeated `scheme=jwt` token by the
        // resource's verified-token cache (no discovery lookup at all), the rest by discovery.
        let (k1, k2) = (w.r1_cfg.token_cache_stats(), w.r2_cfg.token_cache_stats());
        assert!(k1.hits > 0 && k2.hits > 0, "{k1:?} {k2:?}");
    })
    .await;
}

/// The consent hook can be driven directly too: `FormConsent` against issuer 1's form
/// yields a code that `request_type=code` redeems once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_consent_hook_yields_a_single_use_code() {
    bounded(async {
        let w = World::start().await;
        let cb = w.callback();
        let rt = w.request_token().await;
        let url = format!(
            "{}/agent/auth?{}",
            w.issuer1,
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("request_token", &rt)
                .append_pair("redirect_uri", &cb)
                .finish()
        );
        let code = FormConsent::new("testuser", "testpass")
            .authorize(&ConsentRequest::new(url, rt, cb.clone(), w.issuer1.clone()))
            .await
            .unwrap();
        let redeem = [
            ("request_type", "code"),
            ("code", code.as_str()),
            ("redirect_uri", &cb),
        ];
        assert_eq!(w.token_call(&w.issuer1, &redeem).await.0, 200);
        let (s, v) = w.token_call(&w.issuer1, &redeem).await;
        expect_error(
            &(s, v),
            400,
            "invalid_grant",
            "Invalid or expired authorization code",
        );
        let _ = &w.r2;
    })
    .await;
}

/// Concurrent first requests share one acquisition: one `request_type=auth` in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_acquire_one_token() {
    bounded(async {
        let w = World::start().await;
        let client = w.agent().build().unwrap();
        let url = format!("{}/data-auth", w.r1);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                let req = AgentRequest::get(&url).unwrap();
                tokio::spawn(async move { client.send(req).await })
            })
            .collect();
        let mut auth_calls = 0;
        let mut tokens = std::collections::HashSet::new();
        for t in tasks {
            let res = t.await.unwrap().unwrap();
            assert_eq!(res.status(), 200);
            let trace = res.trace.unwrap();
            auth_calls += trace.steps(Step::Token("auth")).count();
            tokens.insert(presented_token(&trace));
        }
        assert_eq!(auth_calls, 1);
        assert_eq!(tokens.len(), 1);
    })
    .await;
}

/// A user-consented grant refreshes without the user: same `sub`, no consent step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_keeps_the_user() {
    bounded(async {
        let w = World::start().await;
        let client = w
            .agent()
            .consent(FormConsent::new("testuser", "testpass"))
            .build()
            .unwrap();
        let url = format!("{}/data-user", w.r1);
        let get = || AgentRequest::get(&url).unwrap().scope("user.read");
        let res = client.send(get()).await.unwrap();
        let first = presented_token(res.trace.as_ref().unwrap());
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        let sub = body["sub"].as_str().unwrap().to_owned();
        let exp = jwt_payload(&first)["exp"].as_u64().unwrap();
        let t = w.now().as_secs();
        w.clock.advance(exp - t - 10);

        let res = client.send(get()).await.unwrap();
        let trace = res.trace.clone().unwrap();
        let (status, body) = body_json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(token_steps(&trace), ["token[refresh]"]);
        assert_eq!(trace.steps(Step::Consent).count(), 0);
        assert_eq!(body["sub"], sub.as_str());
        assert_eq!(body["scope"], "user.read");
        assert_ne!(presented_token(&trace), first);
    })
    .await;
}
