//! Durability of the auth server (issue 8): `aauth serve issuer` runs as a separate process
//! on a SQLite file, serves concurrent autonomous, refresh and consent traffic, is killed
//! with SIGKILL in the middle of it and restarted on the same file. Then:
//!
//! - every refresh token a client received before the kill still refreshes, and the one a
//!   user consented to still names that user (users and refresh tokens survive);
//! - the signing keys of the JWKS before the kill are still published (tokens issued
//!   before the kill still verify);
//! - the consent the user gave is still recorded;
//! - an authorization code redeemed before the kill cannot be redeemed again;
//! - a request token issued before the kill and still fresh is usable, one past its
//!   10-minute lifetime is refused.
//!
//! The issuer reads the system clock, so "past its lifetime" is produced by writing a
//! request token aged 601 s into the database while the server is down.

#![cfg(unix)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aauth_agent::AgentServer;
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::{KeyScheme, RequestParts, ResourceClaims, Signer as _, SigningKey, UnixTime};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::store::{AuthorizationRequest, SqliteStore, Store as _};
use aauth_tower::ResourceConfig;
use serde_json::Value;
use tokio::sync::Mutex;

/// Load tasks; each keeps one request in flight.
const WORKERS: usize = 8;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn now() -> u64 {
    UnixTime::now().as_secs()
}

/// The issuer process; SIGKILLed when dropped.
struct Issuer(Child);

impl Issuer {
    fn start(port: u16, db: &std::path::Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_aauth"))
            .args([
                "serve",
                "issuer",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--id",
                &format!("http://127.0.0.1:{port}"),
                "--user",
                "alice:secret",
                "--dev",
                "--db",
            ])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn issuer");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "issuer did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }

    /// SIGKILL (std's `Child::kill` on unix) and reap.
    fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The agent side: key, identity, and signed calls to the token endpoint.
#[derive(Clone)]
struct Agent {
    http: reqwest::Client,
    id: String,
    key: Arc<SigningKey>,
    issuer: String,
    authority: String,
    callback: String,
}

impl Agent {
    fn signature_key(&self) -> String {
        KeyScheme::Jwks(JwksRef::Id {
            id: self.id.clone(),
            kid: "key-1".into(),
            well_known: Some("aauth-agent".into()),
        })
        .to_header("sig1")
        .expect("header")
    }

    /// `POST /agent/token`; `Err` on a transport error (the server is gone).
    async fn token(&self, params: &[(&str, &str)]) -> Result<(u16, Value), reqwest::Error> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let ct = [(
            "content-type",
            b"application/x-www-form-urlencoded".as_slice(),
        )];
        let parts = RequestParts::new("POST", &self.authority, "/agent/token", &ct)
            .with_scheme("http")
            .with_body(body.as_bytes());
        let sig = sign_request(
            &parts,
            &self.signature_key(),
            self.key.as_ref(),
            &SignOptions::new(UnixTime::now()),
        )
        .expect("sign");
        let mut rb = self
            .http
            .post(format!("{}/agent/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (n, v) in sig.iter() {
            rb = rb.header(n, v);
        }
        let r = rb.send().await?;
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }
}

fn resource_token(key: &SigningKey, resource: &str, agent: &Agent, scope: &str) -> String {
    ResourceClaims::with_scope(
        resource,
        &agent.issuer,
        &agent.id,
        agent.key.public_jwk().thumbprint().expect("jkt"),
        scope,
        UnixTime::from_secs(now() + 300),
    )
    .sign(key)
    .expect("resource token")
}

/// Logs in as alice and grants `request_token`; returns the code.
async fn consent(agent: &Agent, request_token: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("browser");
    let page = format!("{}/agent/auth", agent.issuer);
    let base = [
        ("request_token", request_token),
        ("redirect_uri", agent.callback.as_str()),
    ];
    let r = browser.get(&page).query(&base).send().await.expect("page");
    assert_eq!(r.status(), 200);
    let mut login = base.to_vec();
    login.extend([
        ("action", "login"),
        ("username", "alice"),
        ("password", "secret"),
    ]);
    let r = browser
        .post(&page)
        .form(&login)
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303, "login");
    let mut grant = base.to_vec();
    grant.push(("consent", "grant"));
    let r = browser
        .post(&page)
        .form(&grant)
        .send()
        .await
        .expect("grant");
    assert_eq!(r.status(), 303, "consent");
    let location = r.headers()["location"].to_str().expect("ascii").to_owned();
    url::Url::parse(&location)
        .expect("location")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// `request_type=auth` for `scope`; returns the JSON answer.
async fn auth(agent: &Agent, rkey: &SigningKey, resource: &str, scope: &str) -> Value {
    let rt = resource_token(rkey, resource, agent, scope);
    let (s, v) = agent
        .token(&[
            ("request_type", "auth"),
            ("resource_token", &rt),
            ("redirect_uri", &agent.callback),
        ])
        .await
        .expect("issuer up");
    assert_eq!(s, 200, "{v}");
    v
}

async fn jwks(agent: &Agent) -> Vec<(String, String)> {
    let v: Value = agent
        .http
        .get(format!("{}/jwks.json", agent.issuer))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["x"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_survives_sigkill_under_load() {
    tokio::time::timeout(Duration::from_secs(180), run())
        .await
        .expect("durability test timed out");
}

async fn run() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("issuer.db");
    let port = free_port();
    let issuer_id = format!("http://127.0.0.1:{port}");

    // Agent server and resource (metadata + JWKS only) in this process.
    let agent_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_id = format!("http://{}", agent_l.local_addr().unwrap());
    let key = Arc::new(SigningKey::from_seed(&[1; 32]).with_kid("key-1"));
    let agent_server = AgentServer::new(&agent_id, Arc::clone(&key));
    let callback = agent_server.redirect_uri();
    let router = agent_server.router();
    tokio::spawn(async move { axum::serve(agent_l, router).await });
    let res_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}", res_l.local_addr().unwrap());
    let rkey = Arc::new(SigningKey::from_seed(&[2; 32]).with_kid("resource-key-1"));
    let rcfg = ResourceConfig::builder(
        &resource,
        SigningKey::from_seed(&[2; 32]).with_kid("resource-key-1"),
        Discovery::new(EgressPolicy::dev()).unwrap(),
    )
    .auth_server(&issuer_id)
    .build()
    .unwrap();
    let router = rcfg.metadata_router();
    tokio::spawn(async move { axum::serve(res_l, router).await });

    let agent = Agent {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        id: agent_id.clone(),
        key,
        issuer: issuer_id.clone(),
        authority: format!("127.0.0.1:{port}"),
        callback,
    };

    let issuer = Issuer::start(port, &db);
    let keys_before = jwks(&agent).await;
    assert!(!keys_before.is_empty());

    // A user's consent, redeemed: code C1, refresh token R1 (with `sub`).
    let v = auth(&agent, &rkey, &resource, "user.read").await;
    let request_token = v["request_token"]
        .as_str()
        .expect("consent needed")
        .to_owned();
    let code = consent(&agent, &request_token).await;
    let redeem = [
        ("request_type", "code"),
        ("code", code.as_str()),
        ("redirect_uri", agent.callback.as_str()),
    ];
    let (s, v) = agent.token(&redeem).await.unwrap();
    assert_eq!(s, 200, "{v}");
    let user_refresh = v["refresh_token"].as_str().unwrap().to_owned();
    // A request token still pending at the kill.
    let v = auth(&agent, &rkey, &resource, "user.read").await;
    let pending = v["request_token"].as_str().unwrap().to_owned();

    // Load: autonomous grants and refreshes; every refresh token a client received is
    // recorded. The kill lands while requests are in flight.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (agent, rkey, resource) = (agent.clone(), rkey.clone(), resource.clone());
        let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let mut ok = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let rt = resource_token(&rkey, &resource, &agent, "data.read");
                let Ok((200, v)) = agent
                    .token(&[
                        ("request_type", "auth"),
                        ("resource_token", &rt),
                        ("redirect_uri", &agent.callback),
                    ])
                    .await
                else {
                    continue;
                };
                let refresh = v["refresh_token"].as_str().unwrap().to_owned();
                received.lock().await.push(refresh.clone());
                if let Ok((s, v)) = agent
                    .token(&[("request_type", "refresh"), ("refresh_token", &refresh)])
                    .await
                {
                    assert_eq!(s, 200, "refresh before the kill: {v}");
                }
                ok += 1;
            }
            ok
        }));
    }
    // Let the load run until a few dozen grants are acknowledged, then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().await.len() < 40 {
        assert!(Instant::now() < deadline, "no load progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    issuer.kill();
    stop.store(true, Ordering::Relaxed);
    let mut granted = 0;
    for w in workers {
        granted += w.await.expect("worker");
    }
    let acknowledged = received.lock().await.clone();
    assert!(granted >= 40 && acknowledged.len() >= 40, "{granted}");

    // While it is down: a request token aged past its 10-minute lifetime.
    let store = SqliteStore::open(&db).await.expect("reopen while down");
    let jwk = serde_json::to_string(&agent.key.public_jwk()).unwrap();
    let old = AuthorizationRequest {
        agent_id: agent.id.clone(),
        agent_delegate: None,
        agent_jkt: agent.key.public_jwk().thumbprint().unwrap(),
        agent_jwk: jwk,
        resource_id: resource.clone(),
        scope: "user.read".into(),
        redirect_uri: agent.callback.clone(),
        state: None,
    };
    store
        .create_pending("expired-request-token", &old, now() - 601)
        .await
        .expect("aged request token");
    store.close().await;

    let issuer = Issuer::start(port, &db);

    // Signing keys: everything published before is published after.
    let keys_after = jwks(&agent).await;
    for k in &keys_before {
        assert!(keys_after.contains(k), "{k:?} lost: {keys_after:?}");
    }
    // Every refresh token a client received still works.
    for r in &acknowledged {
        let (s, v) = agent
            .token(&[("request_type", "refresh"), ("refresh_token", r)])
            .await
            .unwrap();
        assert_eq!(s, 200, "refresh token lost by the kill: {v}");
    }
    // The user's refresh token still names the user.
    let (s, v) = agent
        .token(&[
            ("request_type", "refresh"),
            ("refresh_token", &user_refresh),
        ])
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let payload = v["auth_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert!(payload["sub"].is_string(), "{payload}");
    // The code redeemed before the kill stays redeemed.
    let (s, v) = agent.token(&redeem).await.unwrap();
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    // The fresh request token survived, and alice can still log in to grant it.
    let code2 = consent(&agent, &pending).await;
    let (s, v) = agent
        .token(&[
            ("request_type", "code"),
            ("code", &code2),
            ("redirect_uri", &agent.callback),
        ])
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    // The aged request token is refused.
    let r = agent
        .http
        .get(format!("{}/agent/auth", agent.issuer))
        .query(&[
            ("request_token", "expired-request-token"),
            ("redirect_uri", agent.callback.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("expired"));
    issuer.kill();

    // What the store holds after a second kill.
    let store = SqliteStore::open(&db).await.expect("reopen");
    let alice = store.user_by_name("alice").await.unwrap().expect("user");
    let scopes = store
        .consented_scopes(alice.id, &agent.id, &resource)
        .await
        .unwrap()
        .expect("consent kept");
    assert!(scopes.iter().any(|s| s == "user.read"), "{scopes:?}");
    let kids: Vec<String> = store
        .verification_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    for (kid, _) in &keys_before {
        assert!(kids.contains(kid), "{kid} not in {kids:?}");
    }
    for r in &acknowledged {
        assert!(store.refresh_token(r, now()).await.unwrap().is_some());
    }
    store.close().await;
}
