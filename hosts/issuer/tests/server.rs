//! The auth server over real loopback sockets: an in-test agent server and resource
//! (axum), requests signed with `aauth-core`, the consent pages driven over HTTP with a
//! cookie jar, and two issuer instances for token exchange.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::KeyScheme;
use aauth_core::token::{Actor, AgentClaims};
use aauth_core::{
    AuthClaims, Jwks, RequestParts, ResourceClaims, Signer, SigningKey, UnixTime, UnverifiedToken,
    Validation, Verified,
};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{Clock, ConsentPolicy, IssuerConfig, LoginThrottlePolicy, ManualClock, serve};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// ---- in-test parties ---------------------------------------------------------------------

#[path = "support/peers.rs"]
mod peers;
use peers::{Agent, Resource};

/// A running issuer on a fixed port over a SQLite file.
struct IssuerHandle {
    id: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl IssuerHandle {
    async fn start(
        db: &Path,
        clock: Arc<ManualClock>,
        port: u16,
        tune: impl FnOnce(IssuerConfig) -> IssuerConfig,
    ) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let id = format!("http://{addr}");
        let store = SqliteStore::open(db).await.unwrap();
        if store.user_by_name("testuser").await.unwrap().is_none() {
            store
                .create_user("testuser", &hash_password("testpass").unwrap(), 0)
                .await
                .unwrap();
        }
        let discovery = Discovery::new(EgressPolicy::dev()).unwrap();
        let config = tune(IssuerConfig::new(&id, discovery).unwrap().with_clock(clock));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(config, store, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            id,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful shutdown; waits until the server has stopped.
    async fn stop(mut self) -> u16 {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        self.addr.port()
    }

    fn authority(&self) -> String {
        self.addr.to_string()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
    clock: Arc<ManualClock>,
    agent: Agent,
    resource: Resource,
    issuer: IssuerHandle,
    http: reqwest::Client,
}

impl Env {
    async fn new() -> Self {
        Self::with(|c| c).await
    }

    async fn with(tune: impl FnOnce(IssuerConfig) -> IssuerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("issuer.db");
        let clock = Arc::new(ManualClock::from_system());
        let issuer = IssuerHandle::start(&db, clock.clone(), 0, tune).await;
        Self {
            _dir: dir,
            db,
            clock,
            agent: Agent::start(7).await,
            resource: Resource::start(8).await,
            issuer,
            http: browser(),
        }
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    async fn restart(&mut self) {
        let old = std::mem::replace(&mut self.issuer, placeholder());
        let port = old.stop().await;
        self.issuer = IssuerHandle::start(&self.db, self.clock.clone(), port, |c| c).await;
    }

    fn resource_token(&self, scope: &str) -> String {
        self.resource.token(
            &self.issuer.id,
            &self.agent.id,
            &self.agent.jkt(),
            scope,
            self.now(),
        )
    }

    /// `POST /agent/token` signed by the agent server (`scheme=jwks`).
    async fn token_call(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let body = form(params);
        post_signed(
            &self.http,
            &self.issuer,
            &body,
            &self.agent.jwks_header(),
            &self.agent.key,
            self.now(),
        )
        .await
    }

    async fn auth(&self, scope: &str) -> (u16, Value) {
        let rt = self.resource_token(scope);
        let cb = self.agent.callback();
        self.token_call(&[
            ("request_type", "auth"),
            ("resource_token", &rt),
            ("redirect_uri", &cb),
        ])
        .await
    }

    async fn issuer_jwks(&self, issuer: &IssuerHandle) -> Jwks {
        let (_, v) = send(self.http.get(format!("{}/jwks.json", issuer.id))).await;
        serde_json::from_value(v).unwrap()
    }

    /// The auth token of a token-endpoint answer, verified as the env's issuer's token for
    /// the env's resource.
    async fn granted(&self, answer: &(u16, Value)) -> Verified<AuthClaims> {
        let token = answer.1["auth_token"].as_str().expect("an auth_token");
        self.verify_token(&self.issuer, token, &self.resource.id)
            .await
    }

    async fn verify_token(
        &self,
        issuer: &IssuerHandle,
        token: &str,
        aud: &str,
    ) -> Verified<AuthClaims> {
        let jwks = self.issuer_jwks(issuer).await;
        let t = UnverifiedToken::parse(token).unwrap();
        let key = jwks.select(t.kid()).unwrap();
        t.verify::<AuthClaims>(
            &key,
            &Validation::issuer(&issuer.id).with_audience(aud),
            self.now(),
        )
        .unwrap()
    }
}

fn placeholder() -> IssuerHandle {
    IssuerHandle {
        id: String::new(),
        addr: "127.0.0.1:0".parse().unwrap(),
        stop: None,
        task: None,
    }
}

/// A client that keeps cookies and does not follow redirects, like the reference driver.
fn browser() -> reqwest::Client {
    // reqwest is built without a default rustls provider in this workspace (discovery
    // brings *ring*); plain-http tests still need one installed to build a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `k=v&k=v` percent-encoded.
/// The `Signature-Key` of agent delegate `delegate-1` of `env`'s agent server: an agent
/// token for `key`, valid for `ttl` seconds from now.
fn delegate_header(env: &Env, key: &SigningKey, ttl: u64) -> String {
    let jwt = AgentClaims::new(
        &env.agent.id,
        "delegate-1",
        key.public_jwk(),
        env.now().saturating_add(ttl),
    )
    .sign(&env.agent.key)
    .unwrap();
    KeyScheme::Jwt { jwt }.to_header("sig1").unwrap()
}

/// A `request_type=auth` body for resource token `rt`, answering to `cb`.
fn auth_form(rt: &str, cb: &str) -> String {
    form(&[
        ("request_type", "auth"),
        ("resource_token", rt),
        ("redirect_uri", cb),
    ])
}

fn form(params: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Signs a form POST to `/agent/token` with `created` and sends it.
async fn post_signed(
    http: &reqwest::Client,
    issuer: &IssuerHandle,
    body: &str,
    signature_key: &str,
    key: &dyn Signer,
    created: UnixTime,
) -> (u16, Value) {
    let authority = issuer.authority();
    let headers = [(
        "content-type",
        b"application/x-www-form-urlencoded".as_slice(),
    )];
    let req = RequestParts::new("POST", &authority, "/agent/token", &headers)
        .with_scheme("http")
        .with_body(body.as_bytes());
    let h = sign_request(&req, signature_key, key, &SignOptions::new(created)).unwrap();
    let mut rb = http
        .post(format!("{}/agent/token", issuer.id))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    for (n, v) in h.iter() {
        rb = rb.header(n, v);
    }
    send(rb).await
}

async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{got:?}");
    assert_eq!(got.1["error"], code, "{got:?}");
    assert!(got.1["error_description"].is_string(), "{got:?}");
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Drives the HTML consent flow like the reference agent's driver (no CSRF field) and
/// returns the 303 `Location` of the consent decision.
async fn consent(env: &Env, request_token: &str, decision: &str) -> String {
    let auth = format!("{}/agent/auth", env.issuer.id);
    let cb = env.agent.callback();
    let page = env
        .http
        .get(&auth)
        .query(&[("request_token", request_token), ("redirect_uri", &cb)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let set_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign in") && html.contains(&env.agent.id),
        "{html}"
    );
    assert!(html.contains("name=\"csrf_token\""));
    let login = env
        .http
        .post(&auth)
        .form(&[
            ("request_token", request_token),
            ("redirect_uri", &cb),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let consent_page = env.http.get(location(&login)).send().await.unwrap();
    assert_eq!(consent_page.status(), 200);
    let html = consent_page.text().await.unwrap();
    assert!(html.contains("Approve") && html.contains("Deny"), "{html}");
    assert!(html.contains(&env.resource.id));
    let decided = env
        .http
        .post(&auth)
        .form(&[
            ("request_token", request_token),
            ("redirect_uri", &cb),
            ("consent", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    location(&decided)
}

/// A fresh request token with the login page opened on it (which starts the browser session).
async fn open_login(env: &Env) -> String {
    let got = env.auth("user.read").await;
    assert_eq!(got.0, 200, "{got:?}");
    let rt = got.1["request_token"].as_str().unwrap().to_owned();
    let page = auth_page(env, &rt, &env.agent.callback()).await;
    assert_eq!(page.status(), 200);
    rt
}

/// `GET /agent/auth` for a request token, in the env's browser session.
async fn auth_page(env: &Env, rt: &str, redirect_uri: &str) -> reqwest::Response {
    env.http
        .get(format!("{}/agent/auth", env.issuer.id))
        .query(&[("request_token", rt), ("redirect_uri", redirect_uri)])
        .send()
        .await
        .unwrap()
}

/// One `action=login` post for request `rt`, like the reference driver (no CSRF field):
/// the status, `Retry-After` and the page.
async fn login(env: &Env, rt: &str, user: &str, password: &str) -> (u16, Option<u64>, String) {
    let resp = env
        .http
        .post(format!("{}/agent/auth", env.issuer.id))
        .form(&[
            ("request_token", rt),
            ("redirect_uri", &env.agent.callback()),
            ("action", "login"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, resp.text().await.unwrap())
}

/// A lockout policy with small numbers, to walk through in a test.
fn throttle(max_failures: u32, base_lockout: u64, max_lockout: u64) -> LoginThrottlePolicy {
    let mut p = LoginThrottlePolicy::default();
    p.max_failures = max_failures;
    p.base_lockout = base_lockout;
    p.max_lockout = max_lockout;
    p
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_and_jwks_have_the_reference_shape_and_survive_restart() {
    let mut env = Env::new().await;
    let id = env.issuer.id.clone();
    let (s, md) = send(env.http.get(format!("{id}/.well-known/aauth-issuer"))).await;
    assert_eq!(s, 200);
    assert_eq!(
        md,
        json!({
            "issuer": id,
            "jwks_uri": format!("{id}/jwks.json"),
            "agent_token_endpoint": format!("{id}/agent/token"),
            "agent_auth_endpoint": format!("{id}/agent/auth"),
            "agent_signing_algs_supported": ["ed25519"],
            "request_types_supported": ["auth", "code", "exchange", "refresh"],
        })
    );
    let jwks = env.issuer_jwks(&env.issuer).await;
    assert_eq!(jwks.keys.len(), 1);
    let kid = jwks.keys[0].kid.clone().unwrap();
    env.restart().await;
    let again = env.issuer_jwks(&env.issuer).await;
    assert_eq!(again.keys.len(), 1);
    assert_eq!(again.keys[0].kid.as_ref(), Some(&kid), "key persisted");
}

#[tokio::test]
async fn autonomous_auth_binds_cnf_agent_scope_then_refresh_survives_restart() {
    let mut env = Env::new().await;
    let got = env.auth("data.read data.write").await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.1["expires_in"], 3600);
    assert_eq!(got.1["token_type"], "Bearer");
    let refresh = got.1["refresh_token"].as_str().unwrap().to_owned();
    let t = env.granted(&got).await;
    assert_eq!(t.agent.as_deref(), Some(env.agent.id.as_str()));
    assert_eq!(t.cnf.jwk, env.agent.jwk(), "cnf.jwk is the published JWK");
    assert_eq!(t.cnf.jwk.kid.as_deref(), Some("key-1"));
    assert_eq!(t.scope.as_deref(), Some("data.read data.write"));
    assert_eq!(t.iat, Some(env.now().as_secs()));
    assert_eq!(t.exp, env.now().as_secs() + 3600);
    assert!(t.sub.is_none() && t.agent_delegate.is_none());

    env.clock.advance(120);
    env.restart().await;
    let r = env
        .token_call(&[("request_type", "refresh"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(r.0, 200, "{r:?}");
    assert!(
        r.1.get("refresh_token").is_none(),
        "no new refresh token (L§9.7)"
    );
    let t2 = env.granted(&r).await;
    assert_eq!(t2.iat, Some(env.now().as_secs()));
    assert_eq!(t2.scope.as_deref(), Some("data.read data.write"));

    // Another agent cannot use it.
    let other = Agent::start(9).await;
    let body = form(&[("request_type", "refresh"), ("refresh_token", &refresh)]);
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &other.jwks_header(),
        &other.key,
        env.now(),
    )
    .await;
    assert_error(&got, 400, "invalid_grant");
    let bad = env
        .token_call(&[("request_type", "refresh"), ("refresh_token", "nope")])
        .await;
    assert_error(&bad, 400, "invalid_grant");
}

#[tokio::test]
async fn agent_as_resource_with_scope() {
    let env = Env::with(|c| c.with_consent(ConsentPolicy::never())).await;
    let cb = env.agent.callback();
    let got = env
        .token_call(&[
            ("request_type", "auth"),
            ("scope", "openid.like profile.x"),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_eq!(got.0, 200, "{got:?}");
    let t = env
        .verify_token(
            &env.issuer,
            got.1["auth_token"].as_str().unwrap(),
            &env.agent.id,
        )
        .await;
    assert!(t.agent.is_none(), "agent omitted when aud is the agent");
}

#[tokio::test]
async fn consent_flow_over_html_then_code_then_replay() {
    let env = Env::new().await;
    let got = env.auth("user.read data.read").await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.1["expires_in"], 600);
    let rt = got.1["request_token"].as_str().unwrap().to_owned();
    assert_eq!(rt.len(), 43);

    let loc = consent(&env, &rt, "grant").await;
    assert!(
        loc.starts_with(&format!("{}?code=", env.agent.callback())),
        "{loc}"
    );
    let code = query_param(&loc, "code").unwrap();
    let cb = env.agent.callback();

    let wrong = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/other"),
        ])
        .await;
    assert_error(&wrong, 400, "invalid_grant");
    assert_eq!(wrong.1["error_description"], "redirect_uri mismatch");

    // The mismatch consumed the code (single use), so run the flow again for the happy path.
    let rt = env.auth("user.read data.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The session is logged in and consent is remembered: straight back with a code.
    let page = auth_page(&env, &rt, &cb).await;
    assert_eq!(page.status(), 303, "remembered consent skips the page");
    let code = query_param(&location(&page), "code").unwrap();

    let ok = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_eq!(ok.0, 200, "{ok:?}");
    assert!(ok.1["refresh_token"].is_string());
    let t = env.granted(&ok).await;
    assert!(t.sub.is_some(), "user-bound token has sub");
    assert_eq!(t.scope.as_deref(), Some("user.read data.read"));
    assert_eq!(t.agent.as_deref(), Some(env.agent.id.as_str()));

    let replay = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&replay, 400, "invalid_grant");

    // Refresh of a user grant keeps sub.
    let r = env
        .token_call(&[
            ("request_type", "refresh"),
            ("refresh_token", ok.1["refresh_token"].as_str().unwrap()),
        ])
        .await;
    let t2 = env.granted(&r).await;
    assert_eq!(t2.sub, t.sub);
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let env = Env::new().await;
    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let loc = consent(&env, &rt, "deny").await;
    assert_eq!(
        loc,
        format!(
            "{}?error=access_denied&error_description=User+denied+consent",
            env.agent.callback()
        )
    );
}

#[tokio::test]
async fn bad_login_csrf_and_redirect_mismatch_on_the_pages() {
    let env = Env::new().await;
    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("{}/agent/auth", env.issuer.id);
    let cb = env.agent.callback();
    let mismatch = env
        .http
        .get(&auth)
        .query(&[
            ("request_token", rt.as_str()),
            ("redirect_uri", "http://evil.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);

    // No session cookie yet: a post is refused.
    let no_session = browser()
        .post(&auth)
        .form(&[("request_token", rt.as_str()), ("consent", "grant")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_session.status(), 400);

    let page = env
        .http
        .get(&auth)
        .query(&[("request_token", rt.as_str()), ("redirect_uri", &cb)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let bad_csrf = env
        .http
        .post(&auth)
        .form(&[
            ("request_token", rt.as_str()),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
            ("csrf_token", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_csrf.status(), 403);
    let cross_origin = env
        .http
        .post(&auth)
        .header("origin", "http://evil.example")
        .form(&[
            ("request_token", rt.as_str()),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_origin.status(), 403);

    let wrong_pw = env
        .http
        .post(&auth)
        .header("origin", &env.issuer.id)
        .form(&[
            ("request_token", rt.as_str()),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "nope"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_pw.status(), 401);
    assert!(
        wrong_pw
            .text()
            .await
            .unwrap()
            .contains("Invalid username or password")
    );

    // A browser-style login with the CSRF field and same-origin Origin works.
    let ok = env
        .http
        .post(&auth)
        .header("origin", &env.issuer.id)
        .form(&[
            ("request_token", rt.as_str()),
            ("redirect_uri", cb.as_str()),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
}

/// The default policy: four failures are answered as before, the fifth locks the name for
/// 30 s, and while it is locked even the right password is refused (without a hash).
#[tokio::test]
async fn failed_logins_lock_the_name_out_until_the_lockout_ends() {
    let env = Env::new().await;
    let rt = open_login(&env).await;
    for _ in 0..4 {
        let (status, retry_after, page) = login(&env, &rt, "testuser", "wrong").await;
        assert_eq!((status, retry_after), (401, None));
        assert!(page.contains("Invalid username or password"), "{page}");
    }
    let (status, retry_after, page) = login(&env, &rt, "testuser", "wrong").await;
    assert_eq!((status, retry_after), (429, Some(30)), "{page}");
    assert!(
        page.contains("Too many failed sign-in attempts. Try again in 30 seconds."),
        "{page}"
    );
    assert!(page.contains("name=\"password\""), "the login form again");

    env.clock.advance(29);
    let (status, retry_after, page) = login(&env, &rt, "testuser", "testpass").await;
    assert_eq!((status, retry_after), (429, Some(1)), "{page}");
    assert!(page.contains("Try again in 1 second."), "{page}");

    env.clock.advance(1);
    let (status, _, page) = login(&env, &rt, "testuser", "testpass").await;
    assert_eq!(status, 303, "{page}");
}

/// Each failure after a lockout doubles the next one, up to the cap; an attempt refused
/// while locked does not count.
#[tokio::test]
async fn lockout_doubles_per_further_failure_up_to_the_cap() {
    let env = Env::with(|c| c.with_login_throttle(throttle(2, 10, 40))).await;
    let rt = open_login(&env).await;
    let fail = async |advance: u64| {
        env.clock.advance(advance);
        let (status, retry_after, _) = login(&env, &rt, "testuser", "wrong").await;
        (status, retry_after)
    };
    assert_eq!(fail(0).await, (401, None));
    assert_eq!(fail(0).await, (429, Some(10)));
    assert_eq!(fail(10).await, (429, Some(20)));
    assert_eq!(fail(5).await, (429, Some(15)), "refused, not counted");
    assert_eq!(fail(15).await, (429, Some(40)));
    assert_eq!(fail(40).await, (429, Some(40)), "capped");
    env.clock.advance(40);
    assert_eq!(login(&env, &rt, "testuser", "testpass").await.0, 303);
}

/// A successful login clears the count: the failures before it do not add to later ones.
#[tokio::test]
async fn successful_login_resets_the_failure_count() {
    let env = Env::with(|c| c.with_login_throttle(throttle(3, 60, 60))).await;
    let rt = open_login(&env).await;
    let statuses = async |password: &str, n: usize| {
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(login(&env, &rt, "testuser", password).await.0);
        }
        got
    };
    assert_eq!(statuses("wrong", 2).await, [401, 401]);
    // The right password on the attempt that would have locked the name still gets in.
    assert_eq!(statuses("testpass", 1).await, [303]);
    assert_eq!(statuses("wrong", 3).await, [401, 401, 429]);
}

/// A name nobody has is counted and locked exactly like a real one: same statuses,
/// `Retry-After` and pages, so the throttle does not reveal which names exist.
#[tokio::test]
async fn unknown_names_lock_out_like_known_ones() {
    let env = Env::new().await;
    let rt = open_login(&env).await;
    let mut answers = Vec::new();
    for name in ["testuser", "nobody"] {
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(login(&env, &rt, name, "wrong").await);
        }
        answers.push(got);
    }
    let statuses: Vec<_> = answers[1].iter().map(|(s, r, _)| (*s, *r)).collect();
    assert_eq!(
        statuses,
        [
            (401, None),
            (401, None),
            (401, None),
            (401, None),
            (429, Some(30)),
            (429, Some(30))
        ]
    );
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn expired_request_token_and_code() {
    let env = Env::new().await;
    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.clock.advance(601);
    let page = auth_page(&env, &rt, &env.agent.callback()).await;
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(html.contains("expired") && html.starts_with("<!DOCTYPE html>"));

    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let loc = consent(&env, &rt, "grant").await;
    let code = query_param(&loc, "code").unwrap();
    env.clock.advance(61);
    let cb = env.agent.callback();
    let late = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&late, 400, "invalid_grant");
}

#[tokio::test]
async fn restart_mid_consent_then_finish() {
    let mut env = Env::new().await;
    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("{}/agent/auth", env.issuer.id);
    let cb = env.agent.callback();
    env.http
        .get(&auth)
        .query(&[("request_token", rt.as_str()), ("redirect_uri", &cb)])
        .send()
        .await
        .unwrap();
    let login = env
        .http
        .post(&auth)
        .form(&[
            ("request_token", rt.as_str()),
            ("redirect_uri", cb.as_str()),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);

    env.restart().await;

    let decided = env
        .http
        .post(&auth)
        .form(&[
            ("request_token", rt.as_str()),
            ("redirect_uri", cb.as_str()),
            ("consent", "grant"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    let code = query_param(&location(&decided), "code").unwrap();
    let ok = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_eq!(ok.0, 200, "{ok:?}");
}

#[tokio::test]
async fn delegate_with_agent_token() {
    let env = Env::new().await;
    let delegate = SigningKey::from_seed(&[42; 32]);
    let sk = delegate_header(&env, &delegate, 300);
    let jkt = delegate.public_jwk().thumbprint().unwrap();
    let rt = env
        .resource
        .token(&env.issuer.id, &env.agent.id, &jkt, "data.read", env.now());
    let cb = env.agent.callback();
    let body = auth_form(&rt, &cb);
    let got = post_signed(&env.http, &env.issuer, &body, &sk, &delegate, env.now()).await;
    assert_eq!(got.0, 200, "{got:?}");
    let t = env.granted(&got).await;
    assert_eq!(t.agent.as_deref(), Some(env.agent.id.as_str()));
    assert_eq!(t.agent_delegate.as_deref(), Some("delegate-1"));
    assert_eq!(t.cnf.jwk, delegate.public_jwk());

    // The agent server's own key does not match this resource token's agent_jkt.
    let body = auth_form(&rt, &cb);
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &env.agent.jwks_header(),
        &env.agent.key,
        env.now(),
    )
    .await;
    assert_error(&got, 400, "invalid_resource_token");
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .contains("agent_jkt")
    );

    // A delegate's refresh token is refused to the agent server itself.
    let refresh = {
        let body = auth_form(&rt, &cb);
        let got = post_signed(&env.http, &env.issuer, &body, &sk, &delegate, env.now()).await;
        got.1["refresh_token"].as_str().unwrap().to_owned()
    };
    let r = env
        .token_call(&[("request_type", "refresh"), ("refresh_token", &refresh)])
        .await;
    assert_error(&r, 400, "invalid_grant");
}

/// A delegate's auth token binds a key its agent token vouches for, so it expires no later
/// than that agent token; a refresh under a rotated agent token (L§9.7) is capped by the
/// new one.
#[tokio::test]
async fn delegate_token_expires_no_later_than_its_agent_token() {
    let env = Env::new().await;
    let delegate = SigningKey::from_seed(&[42; 32]);
    let jkt = delegate.public_jwk().thumbprint().unwrap();
    let rt = env
        .resource
        .token(&env.issuer.id, &env.agent.id, &jkt, "data.read", env.now());
    let cb = env.agent.callback();
    let body = auth_form(&rt, &cb);
    let sk = delegate_header(&env, &delegate, 300);
    let got = post_signed(&env.http, &env.issuer, &body, &sk, &delegate, env.now()).await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.1["expires_in"], 300, "{got:?}");
    let t = env.granted(&got).await;
    assert_eq!(t.exp, env.now().as_secs() + 300);
    let refresh = got.1["refresh_token"].as_str().unwrap().to_owned();

    // The delegate rotates: new key, new agent token (same `sub`) good for 15 minutes.
    env.clock.advance(280);
    let rotated = SigningKey::from_seed(&[43; 32]);
    let sk = delegate_header(&env, &rotated, 900);
    let body = form(&[("request_type", "refresh"), ("refresh_token", &refresh)]);
    let got = post_signed(&env.http, &env.issuer, &body, &sk, &rotated, env.now()).await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.1["expires_in"], 900, "{got:?}");
    let t = env.granted(&got).await;
    assert_eq!(t.exp, env.now().as_secs() + 900);
    assert_eq!(t.cnf.jwk, rotated.public_jwk());

    // The agent server signing for itself is not capped.
    let got = env.auth("data.read").await;
    assert_eq!(got.1["expires_in"], 3600, "{got:?}");
}

#[tokio::test]
async fn exchange_across_two_issuers_with_act() {
    // Issuer 1 grants agent → resource1; resource1 then calls resource2, whose issuer 2
    // trusts issuer 1.
    let env = Env::new().await;
    let resource1 = &env.resource;
    let dir = tempfile::tempdir().unwrap();
    let upstream_id = env.issuer.id.clone();
    let issuer2 = IssuerHandle::start(&dir.path().join("i2.db"), env.clock.clone(), 0, |c| {
        c.with_trusted_upstreams([upstream_id])
    })
    .await;
    let resource2 = Resource::start(11).await;

    // A user-bound upstream token, so sub flows through the chain.
    let rt = env.auth("user.read").await.1["request_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = query_param(&consent(&env, &rt, "grant").await, "code").unwrap();
    let cb = env.agent.callback();
    let up = env
        .token_call(&[
            ("request_type", "code"),
            ("code", &code),
            ("redirect_uri", &cb),
        ])
        .await;
    let upstream = up.1["auth_token"].as_str().unwrap().to_owned();
    let up_claims = env
        .verify_token(&env.issuer, &upstream, &resource1.id)
        .await;

    let r1_jkt = resource1.key.public_jwk().thumbprint().unwrap();
    let exchange = |token: String, issuer: &IssuerHandle, upstream: String| {
        let rt2 = resource2.token(&issuer.id, &resource1.id, &r1_jkt, "data.read", env.now());
        let body = form(&[("request_type", "exchange"), ("resource_token", &rt2)]);
        let sk = KeyScheme::Jwt { jwt: upstream }.to_header("sig1").unwrap();
        let _ = token;
        (body, sk)
    };
    let (body, sk) = exchange(String::new(), &issuer2, upstream.clone());
    let got = post_signed(&env.http, &issuer2, &body, &sk, &resource1.key, env.now()).await;
    assert_eq!(got.0, 200, "{got:?}");
    assert!(got.1.get("token_type").is_none());
    let t = env
        .verify_token(
            &issuer2,
            got.1["auth_token"].as_str().unwrap(),
            &resource2.id,
        )
        .await;
    assert_eq!(t.agent.as_deref(), Some(resource1.id.as_str()));
    assert_eq!(t.cnf.jwk, resource1.key.public_jwk());
    assert_eq!(t.sub, up_claims.sub, "sub maintained through the chain");
    assert_eq!(t.nbf, Some(env.now().as_secs()));
    assert_eq!(t.iat, Some(env.now().as_secs()));
    let act = t.act.clone().unwrap();
    assert_eq!(act, {
        let a = Actor::new(&env.agent.id);
        a.with_sub(up_claims.sub.clone().unwrap())
    });

    // Signed with the agent's key instead of resource1's: refused (D9 key selection).
    let got = post_signed(&env.http, &issuer2, &body, &sk, &env.agent.key, env.now()).await;
    assert_error(&got, 401, "invalid_signature");

    // An issuer that does not trust issuer 1.
    let dir3 = tempfile::tempdir().unwrap();
    let issuer3 =
        IssuerHandle::start(&dir3.path().join("i3.db"), env.clock.clone(), 0, |c| c).await;
    let (body3, sk3) = exchange(String::new(), &issuer3, upstream.clone());
    let got = post_signed(&env.http, &issuer3, &body3, &sk3, &resource1.key, env.now()).await;
    assert_error(&got, 401, "invalid_token");

    // Chain depth: issuer 2's token (one actor) exchanged again at an issuer allowing one.
    let second = got_token_for_depth(&env, &issuer2, resource1, &resource2).await;
    let dir4 = tempfile::tempdir().unwrap();
    let i2 = issuer2.id.clone();
    let issuer4 = IssuerHandle::start(&dir4.path().join("i4.db"), env.clock.clone(), 0, |c| {
        c.with_trusted_upstreams([i2]).with_max_act_depth(1)
    })
    .await;
    let r2_jkt = resource2.key.public_jwk().thumbprint().unwrap();
    let resource3 = Resource::start(12).await;
    let rt3 = resource3.token(&issuer4.id, &resource2.id, &r2_jkt, "x", env.now());
    let body = form(&[("request_type", "exchange"), ("resource_token", &rt3)]);
    let sk = KeyScheme::Jwt { jwt: second }.to_header("sig1").unwrap();
    let got = post_signed(&env.http, &issuer4, &body, &sk, &resource2.key, env.now()).await;
    assert_error(&got, 403, "access_denied");

    // Upstream audience must be the requester: resource2 presenting a token for resource1.
    let rt_wrong = resource3.token(&issuer2.id, &resource2.id, &r2_jkt, "x", env.now());
    let body = form(&[("request_type", "exchange"), ("resource_token", &rt_wrong)]);
    let sk = KeyScheme::Jwt { jwt: upstream }.to_header("sig1").unwrap();
    let got = post_signed(&env.http, &issuer2, &body, &sk, &resource2.key, env.now()).await;
    assert_error(&got, 401, "invalid_token");
}

/// An exchanged token must not outlive the upstream token it was exchanged from: late in
/// the upstream token's life, the exchanged `exp` (and `expires_in`) stop at the upstream
/// `exp` instead of the issuer's full token lifetime.
#[tokio::test]
async fn exchanged_token_expires_no_later_than_the_upstream_token() {
    let env = Env::new().await;
    let resource1 = &env.resource;
    let dir = tempfile::tempdir().unwrap();
    let upstream_id = env.issuer.id.clone();
    let issuer2 = IssuerHandle::start(&dir.path().join("i2.db"), env.clock.clone(), 0, |c| {
        c.with_trusted_upstreams([upstream_id]).with_token_ttl(3600)
    })
    .await;
    let resource2 = Resource::start(11).await;
    let up = env.auth("data.read").await;
    assert_eq!(up.0, 200, "{up:?}");
    let upstream = up.1["auth_token"].as_str().unwrap().to_owned();
    let up_exp = env
        .verify_token(&env.issuer, &upstream, &resource1.id)
        .await
        .exp;
    assert_eq!(up_exp, env.now().as_secs() + 3600);

    let r1_jkt = resource1.key.public_jwk().thumbprint().unwrap();
    let exchange = || async {
        let rt2 = resource2.token(&issuer2.id, &resource1.id, &r1_jkt, "data.read", env.now());
        let body = form(&[("request_type", "exchange"), ("resource_token", &rt2)]);
        let sk = KeyScheme::Jwt {
            jwt: upstream.clone(),
        }
        .to_header("sig1")
        .unwrap();
        post_signed(&env.http, &issuer2, &body, &sk, &resource1.key, env.now()).await
    };

    // 50 minutes in: 10 minutes of upstream life left, issuer 2 would grant an hour.
    env.clock.advance(3000);
    let got = exchange().await;
    assert_eq!(got.0, 200, "{got:?}");
    assert_eq!(got.1["expires_in"], 600, "{got:?}");
    let t = env
        .verify_token(
            &issuer2,
            got.1["auth_token"].as_str().unwrap(),
            &resource2.id,
        )
        .await;
    assert_eq!(t.exp, up_exp, "capped at the upstream exp");
    assert_eq!(t.iat, Some(env.now().as_secs()));

    // Once the upstream token has expired there is nothing left to exchange.
    env.clock.advance(600);
    assert_error(&exchange().await, 401, "invalid_token");
}

/// An exchanged token from issuer 2 for resource 2 (aud = resource2, one `act`).
async fn got_token_for_depth(
    env: &Env,
    issuer2: &IssuerHandle,
    resource1: &Resource,
    resource2: &Resource,
) -> String {
    // An autonomous upstream token for resource1 from issuer 1.
    let up = env.auth("data.read").await.1["auth_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // resource1 exchanges it at issuer 2 for a token whose audience is resource2's id
    // acting as the next requester.
    let r1_jkt = resource1.key.public_jwk().thumbprint().unwrap();
    let rt = ResourceClaims::with_scope(
        &resource2.id,
        &issuer2.id,
        &resource1.id,
        &r1_jkt,
        "y",
        env.now().saturating_add(600),
    )
    .sign(&resource2.key)
    .unwrap();
    let body = form(&[("request_type", "exchange"), ("resource_token", &rt)]);
    let sk = KeyScheme::Jwt { jwt: up }.to_header("sig1").unwrap();
    let got = post_signed(&env.http, issuer2, &body, &sk, &resource1.key, env.now()).await;
    assert_eq!(got.0, 200, "{got:?}");
    got.1["auth_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn request_authentication_failures_have_exact_codes() {
    let env = Env::new().await;
    let rt = env.resource_token("data.read");
    let cb = env.agent.callback();
    let params = [
        ("request_type", "auth"),
        ("resource_token", rt.as_str()),
        ("redirect_uri", cb.as_str()),
    ];
    let body = form(&params);

    // Stale `created`.
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &env.agent.jwks_header(),
        &env.agent.key,
        env.now().saturating_sub(120),
    )
    .await;
    assert_error(&got, 401, "invalid_signature");

    // Wrong key (another agent's key under this agent's Signature-Key).
    let other = SigningKey::from_seed(&[99; 32]);
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &env.agent.jwks_header(),
        &other,
        env.now(),
    )
    .await;
    assert_error(&got, 401, "invalid_signature");

    // Body changed after signing (Content-Digest mismatch).
    let authority = env.issuer.authority();
    let headers = [(
        "content-type",
        b"application/x-www-form-urlencoded".as_slice(),
    )];
    let req = RequestParts::new("POST", &authority, "/agent/token", &headers)
        .with_scheme("http")
        .with_body(body.as_bytes());
    let h = sign_request(
        &req,
        &env.agent.jwks_header(),
        &env.agent.key,
        &SignOptions::new(env.now()),
    )
    .unwrap();
    let mut rb = env
        .http
        .post(format!("{}/agent/token", env.issuer.id))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{body}&x=1"));
    for (n, v) in h.iter() {
        rb = rb.header(n, v);
    }
    assert_error(&send(rb).await, 401, "invalid_signature");

    // No signature at all.
    let unsigned = env
        .http
        .post(format!("{}/agent/token", env.issuer.id))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone());
    assert_error(&send(unsigned).await, 401, "invalid_request");

    // hwk may not request tokens.
    let hwk = KeyScheme::Hwk(env.agent.key.public_jwk())
        .to_header("sig1")
        .unwrap();
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &hwk,
        &env.agent.key,
        env.now(),
    )
    .await;
    assert_error(&got, 401, "invalid_request");

    // Resource token for another issuer.
    let wrong_aud = env.resource.token(
        "http://127.0.0.1:1",
        &env.agent.id,
        &env.agent.jkt(),
        "data.read",
        env.now(),
    );
    let got = env
        .token_call(&[
            ("request_type", "auth"),
            ("resource_token", &wrong_aud),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&got, 400, "invalid_resource_token");

    // Resource token for another agent.
    let wrong_agent = env.resource.token(
        &env.issuer.id,
        "http://127.0.0.1:2",
        &env.agent.jkt(),
        "data.read",
        env.now(),
    );
    let got = env
        .token_call(&[
            ("request_type", "auth"),
            ("resource_token", &wrong_agent),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&got, 400, "invalid_resource_token");
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Agent claim mismatch")
    );

    // Expired resource token.
    let old = env.resource.token(
        &env.issuer.id,
        &env.agent.id,
        &env.agent.jkt(),
        "data.read",
        env.now().saturating_sub(601),
    );
    let got = env
        .token_call(&[
            ("request_type", "auth"),
            ("resource_token", &old),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&got, 400, "invalid_resource_token");

    // An auth token is not an identity for request_type=auth.
    let tok = env.auth("data.read").await.1["auth_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sk = KeyScheme::Jwt { jwt: tok }.to_header("sig1").unwrap();
    let got = post_signed(
        &env.http,
        &env.issuer,
        &body,
        &sk,
        &env.agent.key,
        env.now(),
    )
    .await;
    assert_eq!(got.0, 401, "{got:?}");
}

#[tokio::test]
async fn parameter_errors_and_garbage_bodies_are_400_not_500() {
    let env = Env::new().await;
    let cb = env.agent.callback();
    assert_error(
        &env.token_call(&[("redirect_uri", &cb)]).await,
        400,
        "invalid_request",
    );
    assert_error(
        &env.token_call(&[("request_type", "device_code")]).await,
        400,
        "unsupported_request_type",
    );
    let rt = env.resource_token("data.read");
    let got = env
        .token_call(&[
            ("request_type", "auth"),
            ("resource_token", &rt),
            ("scope", "a"),
            ("redirect_uri", &cb),
        ])
        .await;
    assert_error(&got, 400, "invalid_request");
    assert_eq!(
        got.1["error_description"],
        "Must provide exactly one of: resource_token, scope, or auth_request_url"
    );
    assert_error(
        &env.token_call(&[("request_type", "auth"), ("resource_token", &rt)])
            .await,
        400,
        "invalid_request",
    );
    assert_error(
        &env.token_call(&[
            ("request_type", "auth"),
            ("resource_token", "not.a.jwt"),
            ("redirect_uri", &cb),
        ])
        .await,
        400,
        "invalid_resource_token",
    );
    assert_error(
        &env.token_call(&[("request_type", "code"), ("redirect_uri", &cb)])
            .await,
        400,
        "invalid_request",
    );
    assert_error(
        &env.token_call(&[("request_type", "exchange")]).await,
        400,
        "invalid_request",
    );

    // Raw garbage, signed and unsigned, including invalid UTF-8 and huge bodies.
    let url = format!("{}/agent/token", env.issuer.id);
    for body in [
        b"%%%&&&===".to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"request_type=auth&request_type=code".to_vec(),
        vec![b'a'; 200 * 1024],
    ] {
        let got = send(env.http.post(&url).body(body)).await;
        assert!((400..500).contains(&got.0), "{got:?}");
        assert!(got.1["error"].is_string(), "{got:?}");
    }
    let page = env
        .http
        .post(format!("{}/agent/auth", env.issuer.id))
        .body(vec![0xff, b'=', b'%'])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let page = env
        .http
        .get(format!(
            "{}/agent/auth?request_token=%ZZ&&==",
            env.issuer.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
}

/// Key rotation (several keys, one active): after `rotate_signing_key` on the shared store,
/// the running server publishes both keys, signs new tokens with the new one, and tokens
/// signed before still verify against its JWKS; retiring the old key removes it.
#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_verifiable() {
    let env = Env::new().await;
    let before = env.auth("data.read").await;
    assert_eq!(before.0, 200, "{before:?}");
    let old_token = before.1["auth_token"].as_str().unwrap().to_owned();
    let old_kid = UnverifiedToken::parse(&old_token)
        .unwrap()
        .kid()
        .unwrap()
        .to_owned();

    let admin = SqliteStore::open(&env.db).await.unwrap();
    let new_kid = aauth_issuer::rotate_signing_key(&admin, env.now().as_secs())
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);
    let jwks = env.issuer_jwks(&env.issuer).await;
    let kids: Vec<_> = jwks.keys.iter().filter_map(|k| k.kid.clone()).collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));

    let after = env.auth("data.read").await;
    assert_eq!(after.0, 200, "{after:?}");
    let new_token = after.1["auth_token"].as_str().unwrap();
    assert_eq!(
        UnverifiedToken::parse(new_token).unwrap().kid(),
        Some(new_kid.as_str())
    );
    env.verify_token(&env.issuer, new_token, &env.resource.id)
        .await;
    env.verify_token(&env.issuer, &old_token, &env.resource.id)
        .await;

    // The active key cannot be retired; the old one can, and leaves the JWKS.
    assert!(admin.retire(&new_kid, env.now().as_secs()).await.is_err());
    admin.retire(&old_kid, env.now().as_secs()).await.unwrap();
    let jwks = env.issuer_jwks(&env.issuer).await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid.as_deref(), Some(new_kid.as_str()));
}
