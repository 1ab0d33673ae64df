//! Challenge handling against an in-test resource and auth server (axum on loopback),
//! with a hand-advanced clock shared by client and mocks (no sleeping for expiry).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aauth_agent::{
    AgentClient, AgentError, AgentRequest, AgentServer, CallbackConsent, CallbackRegistry, Clock,
    ConsentError, ConsentRequest, Identity, Step,
};
use aauth_core::httpsig::{SignedRequest, VerifyPolicy};
use aauth_core::token::AuthClaims;
use aauth_core::{IssuerMetadata, RequestParts, Signer, SigningKey, UnixTime};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

const T0: u64 = 1_800_000_000;

#[derive(Default)]
struct Config {
    consent: bool,
    refresh: bool,
    ttl: u64,
    error: Option<(u16, &'static str, &'static str)>,
}

struct Mock {
    base: String,
    now: Arc<AtomicU64>,
    key: SigningKey,
    agent_key: aauth_core::PublicKey,
    cfg: Config,
    requests: Mutex<Vec<String>>,
    verified: AtomicU64,
    /// Refuse this many upcoming auth tokens regardless of `exp` (a revoked token).
    revoke: AtomicU64,
    /// Each verified request's method and `Nonce` header.
    nonces: Mutex<Vec<(String, Option<String>)>>,
}

type Shared = Arc<Mock>;

impl Mock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn count(&self, request_type: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| *r == request_type)
            .count()
    }

    /// Checks the request signature with the agent key, with `@authority` = `Host`.
    fn verify(&self, method: &str, uri: &Uri, headers: &HeaderMap, body: Option<&[u8]>) {
        let host = headers["host"].to_str().unwrap().to_owned();
        let owned: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let hs: Vec<(&str, &[u8])> = owned.iter().map(|(n, v)| (n.as_str(), &v[..])).collect();
        let target = uri.path_and_query().unwrap().as_str();
        let mut parts = RequestParts::new(method, &host, target, &hs).with_scheme("http");
        if let Some(b) = body {
            parts = parts.with_body(b);
        }
        let policy = VerifyPolicy::default();
        let signed = SignedRequest::parse(&parts, &policy, UnixTime::from_secs(self.now()))
            .expect("signature headers");
        signed
            .verify(&parts, &self.agent_key, &policy)
            .expect("signature verifies with the agent key");
        let nonce = headers.get("nonce").map(|v| v.to_str().unwrap().to_owned());
        if nonce.is_some() {
            let input = headers["signature-input"].to_str().unwrap();
            assert!(input.contains("\"nonce\" \"signature-key\""), "{input}");
        }
        self.nonces.lock().unwrap().push((method.to_owned(), nonce));
        self.verified.fetch_add(1, Ordering::SeqCst);
    }

    fn issue(&self, sub: Option<&str>) -> serde_json::Value {
        let exp = UnixTime::from_secs(self.now() + self.cfg.ttl);
        let mut claims = AuthClaims::new(
            self.base.as_str(),
            self.base.as_str(),
            aauth_core::Jwk::ed25519(&[0; 32], None),
            exp,
        )
        .with_agent("http://agent.test")
        .with_scope("data.read");
        if let Some(s) = sub {
            claims = claims.with_sub(s);
        }
        let token = claims.sign(&self.key).unwrap();
        serde_json::json!({
            "auth_token": token, "expires_in": self.cfg.ttl, "refresh_token": "refresh-secret"
        })
    }
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    let sk = headers.get("signature-key")?.to_str().ok()?;
    let jwt = sk
        .strip_prefix("sig1=(scheme=jwt jwt=\"")?
        .strip_suffix("\")")?;
    Some(jwt.to_owned())
}

async fn resource(State(m): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    m.verify("GET", &uri, &headers, None);
    if uri.path() == "/identity" {
        return (
            StatusCode::UNAUTHORIZED,
            [("agent-auth", "httpsig; identity=?1")],
            "",
        )
            .into_response();
    }
    if let Some(jwt) = token_of(&headers) {
        let token = aauth_core::UnverifiedToken::parse(&jwt).unwrap();
        let exp = serde_json::from_slice::<serde_json::Value>(
            aauth_core::jws::UnverifiedJws::parse(&jwt)
                .unwrap()
                .payload(),
        )
        .unwrap()["exp"]
            .as_u64()
            .unwrap();
        assert_eq!(token.typ(), Some("auth+jwt"));
        let revoked = m
            .revoke
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if m.now() < exp && !revoked {
            return (StatusCode::OK, "granted").into_response();
        }
        // Like the reference: a bad or expired auth token gets no resource token.
        return (
            StatusCode::UNAUTHORIZED,
            [("agent-auth", "httpsig; auth-token")],
            "",
        )
            .into_response();
    }
    // `/ssrf` names the cloud metadata address as its auth server.
    let auth_server = if uri.path() == "/ssrf" {
        "http://169.254.169.254"
    } else {
        m.base.as_str()
    };
    let challenge = format!(
        "httpsig; auth-token; resource_token=\"rt-{}\"; auth_server=\"{}\"",
        uri.path().trim_start_matches('/'),
        auth_server
    );
    (StatusCode::UNAUTHORIZED, [("agent-auth", challenge)], "").into_response()
}

async fn issuer(State(m): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    m.verify("GET", &uri, &headers, None);
    axum::Json(IssuerMetadata::for_id(&m.base)).into_response()
}

async fn token(State(m): State<Shared>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    m.verify("POST", &uri, &headers, Some(body.as_bytes()));
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let rt = form["request_type"].clone();
    m.requests.lock().unwrap().push(rt.clone());
    // Give concurrent callers time to pile up behind the acquisition.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = |status: u16, e: &str, d: &str| {
        (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(serde_json::json!({"error": e, "error_description": d})),
        )
            .into_response()
    };
    if let Some((s, e, d)) = m.cfg.error {
        return err(s, e, d);
    }
    match rt.as_str() {
        "auth" => {
            assert!(form["resource_token"].starts_with("rt-"));
            assert_eq!(form["redirect_uri"], "http://agent.test/callback");
            if m.cfg.consent {
                axum::Json(serde_json::json!({"request_token": "req-1", "expires_in": 600}))
                    .into_response()
            } else {
                axum::Json(m.issue(None)).into_response()
            }
        }
        "code" if form["code"] == "good-code" => axum::Json(m.issue(Some("alice"))).into_response(),
        "code" => err(
            400,
            "invalid_grant",
            "Invalid or expired authorization code",
        ),
        "refresh" if m.cfg.refresh && form["refresh_token"] == "refresh-secret" => {
            let mut v = m.issue(None);
            v.as_object_mut().unwrap().remove("refresh_token");
            axum::Json(v).into_response()
        }
        other => err(
            400,
            "unsupported_request_type",
            &format!("Unsupported request_type: {other}"),
        ),
    }
}

struct Harness {
    mock: Shared,
    now: Arc<AtomicU64>,
    key: Arc<SigningKey>,
}

impl Harness {
    async fn start(cfg: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let now = Arc::new(AtomicU64::new(T0));
        let key = Arc::new(SigningKey::from_seed(&[7; 32]).with_kid("key-1"));
        let mock = Arc::new(Mock {
            base,
            now: Arc::clone(&now),
            key: SigningKey::from_seed(&[9; 32]).with_kid("auth-key-1"),
            agent_key: key.public_key(),
            cfg: Config {
                ttl: if cfg.ttl == 0 { 3600 } else { cfg.ttl },
                ..cfg
            },
            requests: Mutex::default(),
            verified: AtomicU64::new(0),
            revoke: AtomicU64::new(0),
            nonces: Mutex::default(),
        });
        let app = Router::new()
            .route("/data", get(resource))
            .route("/other", get(resource))
            .route("/identity", get(resource))
            .route("/ssrf", get(resource))
            .route("/.well-known/aauth-issuer", get(issuer))
            .route("/agent/token", post(token))
            .with_state(Arc::clone(&mock));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { mock, now, key }
    }

    /// Tokens of 300 s with a refresh token.
    async fn refreshing() -> Self {
        Self::start(Config {
            refresh: true,
            ttl: 300,
            ..Config::default()
        })
        .await
    }

    fn clock(&self) -> Clock {
        let now = Arc::clone(&self.now);
        Clock::from_fn(move || UnixTime::from_secs(now.load(Ordering::SeqCst)))
    }

    fn client(&self) -> aauth_agent::AgentClientBuilder {
        AgentClient::builder(
            Arc::clone(&self.key),
            Identity::agent_server("http://agent.test"),
        )
        .clock(self.clock())
        .trace(true)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mock.base)
    }
}

#[tokio::test]
async fn autonomous_challenge_then_cached_token() {
    let h = Harness::start(Config::default()).await;
    let client = h.client().build().unwrap();
    let res = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let trace = res.trace.unwrap();
    let steps: Vec<Step> = trace.hops.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Resource,
            Step::IssuerMetadata,
            Step::Token("auth"),
            Step::Retry
        ]
    );
    assert!(
        trace.hops[0]
            .challenge
            .as_deref()
            .unwrap()
            .contains("rt-data")
    );
    let sk = &trace.hops[0].signature_headers[0];
    assert_eq!(
        (sk.0.as_str(), sk.1.as_str()),
        (
            "Signature-Key",
            "sig1=(scheme=jwks id=\"http://agent.test\" kid=\"key-1\" well-known=\"aauth-agent\")"
        )
    );
    assert!(
        trace.hops[3].signature_headers[0]
            .1
            .starts_with("sig1=(scheme=jwt jwt=\"ey")
    );
    assert_eq!(
        trace.hops[2].auth_token.as_ref().unwrap()["header"]["typ"],
        "auth+jwt"
    );
    assert!(trace.to_string().contains("token[auth] POST"));

    // Same origin, no scope: the cached token goes out directly.
    let res = client
        .send(AgentRequest::get(&h.url("/other")).unwrap())
        .await
        .unwrap();
    assert_eq!((res.status(), res.trace.unwrap().hops.len()), (200, 1));
    assert_eq!(h.mock.count("auth"), 1);
    // A request with its own scope key acquires separately.
    let res = client
        .send(
            AgentRequest::get(&h.url("/data"))
                .unwrap()
                .scope("user.read"),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(h.mock.count("auth"), 2);
    assert!(h.mock.verified.load(Ordering::SeqCst) >= 7);
}

#[tokio::test]
async fn concurrent_sends_share_one_acquisition() {
    let h = Harness::start(Config::default()).await;
    let client = h.client().trace(false).build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        let url = h.url("/data");
        tasks.push(tokio::spawn(async move {
            c.send(AgentRequest::get(&url).unwrap())
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(h.mock.count("auth"), 1);
}

#[tokio::test]
async fn consent_hook_code_exchange() {
    let h = Harness::start(Config {
        consent: true,
        ..Config::default()
    })
    .await;
    let seen = Arc::new(Mutex::new(None::<ConsentRequest>));
    let seen2 = Arc::clone(&seen);
    let client = h
        .client()
        .consent(move |req: ConsentRequest| {
            *seen2.lock().unwrap() = Some(req);
            async { Ok("good-code".to_owned()) }
        })
        .build()
        .unwrap();
    let res = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let req = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        req.url,
        format!(
            "{}/agent/auth?request_token=req-1&redirect_uri=http%3A%2F%2Fagent.test%2Fcallback",
            h.mock.base
        )
    );
    assert_eq!(req.request_token, "req-1");
    let trace = res.trace.unwrap();
    assert_eq!(trace.steps(Step::Token("code")).count(), 1);
    let code_hop = trace.steps(Step::Token("code")).next().unwrap();
    assert_eq!(
        code_hop.auth_token.as_ref().unwrap()["payload"]["sub"],
        "alice"
    );
    assert!(
        !code_hop
            .request_body
            .as_ref()
            .unwrap()
            .contains("good-code")
    );
}

#[tokio::test]
async fn consent_denied_and_missing_hook_are_errors() {
    let h = Harness::start(Config {
        consent: true,
        ..Config::default()
    })
    .await;
    let client = h
        .client()
        .consent(|_req: ConsentRequest| async {
            Err(ConsentError::new("access_denied", "User denied consent"))
        })
        .build()
        .unwrap();
    let err = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("access_denied"));
    assert_eq!(err.step(), Some(Step::Consent));

    let client = h.client().build().unwrap();
    let err = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("consent_required"));
}

#[tokio::test]
async fn auth_server_error_names_the_hop() {
    let h = Harness::start(Config {
        error: Some((400, "invalid_resource_token", "agent_jkt mismatch")),
        ..Config::default()
    })
    .await;
    let client = h.client().build().unwrap();
    let err = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap_err();
    match &err {
        AgentError::Protocol {
            step,
            status,
            error,
            error_description,
            url,
        } => {
            assert_eq!(*step, Step::Token("auth"));
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_resource_token");
            assert_eq!(error_description.as_deref(), Some("agent_jkt mismatch"));
            assert!(url.ends_with("/agent/token"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("invalid_resource_token: agent_jkt mismatch")
    );
}

#[tokio::test]
async fn identity_challenge_with_pseudonymous_client() {
    let h = Harness::start(Config::default()).await;
    let client = AgentClient::builder(Arc::clone(&h.key), Identity::Pseudonymous)
        .clock(h.clock())
        .build()
        .unwrap();
    assert!(
        client
            .identity_signature_key()
            .starts_with("sig1=(scheme=hwk kty=\"OKP\" crv=\"Ed25519\" x=\"")
    );
    let err = client
        .send(AgentRequest::get(&h.url("/identity")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AgentError::IdentityRequired { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("identity=?1"));
    // An identified client just gets the 401 back.
    let client = h.client().build().unwrap();
    let res = client
        .send(AgentRequest::get(&h.url("/identity")).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// Digest L§10.5: a `Nonce` (>= 96 bits, base64url) on every POST, fresh each time and
/// covered by the signature; none on GET.
#[tokio::test]
async fn posts_carry_a_fresh_covered_nonce() {
    let h = Harness::refreshing().await;
    let client = h.client().build().unwrap();
    let send = || client.send(AgentRequest::get(&h.url("/data")).unwrap());
    assert_eq!(send().await.unwrap().status(), 200);
    h.now.fetch_add(250, Ordering::SeqCst); // refresh first
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!((h.mock.count("auth"), h.mock.count("refresh")), (1, 1));
    let seen = h.mock.nonces.lock().unwrap().clone();
    let mut posted = Vec::new();
    for (method, nonce) in &seen {
        match method.as_str() {
            "POST" => posted.push(nonce.clone().expect("a POST carries a Nonce")),
            _ => assert_eq!(nonce, &None, "{method} carries no Nonce"),
        }
    }
    assert_eq!(posted.len(), 2, "{seen:?}");
    for n in &posted {
        assert_eq!(n.len(), 22, "128 bits, base64url without padding: {n}");
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert_ne!(posted[0], posted[1]);
}

#[tokio::test]
async fn refresh_shortly_before_exp() {
    let h = Harness::refreshing().await;
    let client = h.client().build().unwrap();
    let send = || client.send(AgentRequest::get(&h.url("/data")).unwrap());
    assert_eq!(send().await.unwrap().status(), 200);
    h.now.fetch_add(200, Ordering::SeqCst); // 100 s left: outside the 60 s margin
    let res = send().await.unwrap();
    assert_eq!((res.status(), res.trace.unwrap().hops.len()), (200, 1));
    h.now.fetch_add(50, Ordering::SeqCst); // 50 s left: refresh first
    let res = send().await.unwrap();
    let steps: Vec<Step> = res.trace.unwrap().hops.iter().map(|h| h.step).collect();
    assert_eq!(steps, [Step::Token("refresh"), Step::Resource]);
    assert_eq!((h.mock.count("auth"), h.mock.count("refresh")), (1, 1));
    // The kept refresh token still works after the refreshed token nears expiry.
    h.now.fetch_add(260, Ordering::SeqCst);
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!((h.mock.count("auth"), h.mock.count("refresh")), (1, 2));
}

#[tokio::test]
async fn expired_token_without_refresh_falls_back_to_auth() {
    // The reference auth server answers refresh with unsupported_request_type.
    let h = Harness::start(Config {
        ttl: 300,
        ..Config::default()
    })
    .await;
    let client = h.client().build().unwrap();
    let send = || client.send(AgentRequest::get(&h.url("/data")).unwrap());
    assert_eq!(send().await.unwrap().status(), 200);
    h.now.fetch_add(400, Ordering::SeqCst); // expired
    let res = send().await.unwrap();
    assert_eq!(res.status(), 200);
    let steps: Vec<Step> = res.trace.unwrap().hops.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Token("refresh"),
            Step::Resource,
            Step::Token("auth"),
            Step::Retry
        ]
    );
    assert_eq!(h.mock.count("auth"), 2);
}

#[tokio::test]
async fn token_rejected_by_resource_is_replaced() {
    // The resource refuses a token the client still considers fresh, with a bare
    // `httpsig; auth-token` (as the reference does): the client re-identifies to get a
    // resource token and re-acquires.
    let h = Harness::start(Config::default()).await;
    let client = h.client().build().unwrap();
    let send = || client.send(AgentRequest::get(&h.url("/data")).unwrap());
    assert_eq!(send().await.unwrap().status(), 200);
    h.mock.revoke.store(1, Ordering::SeqCst);
    let res = send().await.unwrap();
    assert_eq!(res.status(), 200);
    let steps: Vec<Step> = res.trace.unwrap().hops.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Resource,
            Step::Retry,
            Step::Token("auth"),
            Step::Retry
        ]
    );
    assert_eq!(h.mock.count("auth"), 2);
}

#[tokio::test]
async fn fresh_token_refused_returns_the_401() {
    let h = Harness::start(Config::default()).await;
    let client = h.client().build().unwrap();
    let send = || client.send(AgentRequest::get(&h.url("/data")).unwrap());
    assert_eq!(send().await.unwrap().status(), 200);
    h.mock.revoke.store(2, Ordering::SeqCst);
    let res = send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.trace.unwrap().hops.len(), 4);
    assert_eq!(h.mock.count("auth"), 2);
}

#[tokio::test]
async fn agent_server_routes_and_callback() {
    let key = Arc::new(SigningKey::from_seed(&[7; 32]).with_kid("key-1"));
    let registry = CallbackRegistry::new();
    let server = AgentServer::new("http://127.0.0.1:9", Arc::clone(&key))
        .with_callbacks(registry.clone())
        .with_clock(Clock::from_fn(|| UnixTime::from_secs(T0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let get = |p: &str| http.get(format!("{base}{p}")).send();

    let md = get("/.well-known/aauth-agent")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        md,
        r#"{"agent":"http://127.0.0.1:9","jwks_uri":"http://127.0.0.1:9/jwks.json"}"#
    );
    let jwks = get("/jwks.json").await.unwrap().text().await.unwrap();
    let x = key.public_jwk().x.unwrap();
    assert_eq!(
        jwks,
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"key-1"}}]}}"#)
    );

    // CallbackConsent: the hook "opens" the URL; the browser lands on /callback.
    let hook = CallbackConsent::new(registry.clone(), Duration::from_secs(5), {
        let base = base.clone();
        move |url: &str| {
            let state = url::Url::parse(url)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "state")
                .unwrap()
                .1
                .into_owned();
            let cb = format!("{base}/callback?code=abc&state={state}");
            tokio::spawn(async move { reqwest::get(cb).await.unwrap().status() });
        }
    });
    let req = consent_request(&base);
    let code = aauth_agent::ConsentHook::authorize(&hook, &req)
        .await
        .unwrap();
    assert_eq!(code, "abc");
    assert_eq!(registry.pending(), 0);

    // Without state, the only pending wait gets the error.
    let pending = registry.register("s1");
    let status = get("/callback?error=access_denied&error_description=User+denied+consent")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let err = pending.wait(Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err.error, "access_denied");
    assert_eq!(
        err.error_description.as_deref(),
        Some("User denied consent")
    );
    // No waiter: 400.
    assert_eq!(get("/callback?code=zzz").await.unwrap().status(), 400);
    // Timeout.
    let err = registry
        .register("s2")
        .wait(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(err.error, "timeout");
    assert_eq!(registry.pending(), 0);

    // Agent tokens for delegates.
    let delegate = SigningKey::from_seed(&[3; 32]);
    let jwt = server
        .mint_agent_token("worker-1", delegate.public_jwk(), Duration::from_secs(600))
        .unwrap();
    let verified = aauth_core::UnverifiedToken::parse(&jwt)
        .unwrap()
        .verify::<aauth_core::AgentClaims>(
            &key.public_key(),
            &aauth_core::Validation::issuer("http://127.0.0.1:9"),
            UnixTime::from_secs(T0 + 1),
        )
        .unwrap();
    assert_eq!(verified.claims().sub, "worker-1");
    assert_eq!(verified.claims().exp, T0 + 600);
    assert_eq!(verified.claims().cnf.jwk, delegate.public_jwk());
    let client = AgentClient::builder(Arc::new(delegate), Identity::delegate(jwt.clone()))
        .build()
        .unwrap();
    assert_eq!(
        client.identity_signature_key(),
        format!("sig1=(scheme=jwt jwt=\"{jwt}\")")
    );
    assert_eq!(client.redirect_uri(), Some("http://127.0.0.1:9/callback"));
}

fn consent_request(base: &str) -> ConsentRequest {
    ConsentRequest::new(
        format!("{base}/agent/auth?request_token=r&redirect_uri=x"),
        "r",
        "x",
        base,
    )
}

/// A challenge can name any auth server; with an egress policy the client refuses the ones
/// it does not admit before sending anything (digest §5.2 S-22), and still reaches the
/// admitted ones.
#[tokio::test]
async fn egress_policy_refuses_a_challenge_naming_a_forbidden_auth_server() {
    let h = Harness::start(Config::default()).await;
    let authority = h.mock.base.trim_start_matches("http://").to_owned();
    let client = h
        .client()
        .egress(aauth_discovery::EgressPolicy::new().allow_host(&authority))
        .build()
        .unwrap();
    let err = client
        .send(AgentRequest::get(&h.url("/ssrf")).unwrap())
        .await
        .unwrap_err();
    match &err {
        AgentError::EgressDenied { step, url } => {
            assert_eq!(*step, Step::IssuerMetadata);
            assert!(url.starts_with("http://169.254.169.254/"), "{url}");
        }
        other => panic!("expected EgressDenied, got {other}"),
    }
    assert_eq!(h.mock.count("auth"), 0);
    // The admitted auth server still works through the same client.
    let res = client
        .send(AgentRequest::get(&h.url("/data")).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // And a target outside the policy is refused before it is contacted.
    let err = client
        .send(AgentRequest::get("http://10.0.0.1/data").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AgentError::EgressDenied {
            step: Step::Resource,
            ..
        }
    ));
}
