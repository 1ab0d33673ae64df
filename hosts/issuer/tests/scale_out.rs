//! Two auth server instances on one PostgreSQL database, as behind a load balancer: both
//! have the same issuer identifier and canonical authority, and each request may land on
//! either. A throwaway cluster is started on loopback (see `support/pg_cluster.rs`).
//!
//! Shown: both instances start at once (migrations and signing-key bootstrap race safely)
//! and publish the same key; consent started on one instance (page, login) is finished on
//! the other (consent page, decision); of 16 concurrent redemptions of the code, spread
//! over both instances, exactly one succeeds; the refresh token it returned works at the
//! other instance.

use std::sync::Arc;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::{AuthClaims, Jwks, RequestParts, UnixTime, UnverifiedToken, Validation, Verified};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{PgStore, Store};
use aauth_issuer::{Clock, IssuerConfig, ManualClock, serve};
use reqwest::redirect::Policy;
use serde_json::Value;
use tokio::sync::oneshot;

#[path = "support/peers.rs"]
mod peers;
#[path = "support/pg_cluster.rs"]
mod pg_cluster;
use peers::{Agent, Resource, bind};

/// The public identity both instances share (the load balancer's address; nothing listens
/// there). Requests are signed for its authority and sent to either instance's own
/// loopback address. (Plain http is accepted for loopback names only.)
const ISSUER: &str = "http://localhost:8443";
const AUTHORITY: &str = "localhost:8443";

/// One auth server process: its own connection pool, its own port.
struct Instance {
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn instance(url: &str, clock: Arc<ManualClock>) -> Instance {
    let (listener, base) = bind().await;
    let store = PgStore::connect(url).await.unwrap();
    let config = IssuerConfig::new(ISSUER, Discovery::new(EgressPolicy::dev()).unwrap())
        .unwrap()
        .with_clock(clock);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(config, store, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Instance { base, stop, task }
}

/// Sends a signed `POST /agent/token` to one instance.
async fn token_call(
    http: &reqwest::Client,
    at: &Instance,
    agent: &Agent,
    params: &[(&str, &str)],
    now: UnixTime,
) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let headers = [(
        "content-type",
        b"application/x-www-form-urlencoded".as_slice(),
    )];
    let req = RequestParts::new("POST", AUTHORITY, "/agent/token", &headers)
        .with_scheme("http")
        .with_body(body.as_bytes());
    let signed = sign_request(
        &req,
        &agent.jwks_header(),
        &agent.key,
        &SignOptions::new(now),
    )
    .unwrap();
    let mut rb = http
        .post(format!("{}/agent/token", at.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (n, v) in signed.iter() {
        rb = rb.header(n, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A `Location` on the public issuer URL, sent to a given instance instead (what the load
/// balancer would do).
fn via(at: &Instance, location: &str) -> String {
    let rest = location
        .strip_prefix(ISSUER)
        .unwrap_or_else(|| panic!("redirect off the issuer: {location}"));
    format!("{}{rest}", at.base)
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn jwks(http: &reqwest::Client, at: &Instance) -> Jwks {
    let body = http
        .get(format!("{}/jwks.json", at.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn verify(jwks: &Jwks, token: &str, aud: &str, now: UnixTime) -> Verified<AuthClaims> {
    let t = UnverifiedToken::parse(token).unwrap();
    let key = jwks.select(t.kid()).unwrap();
    t.verify::<AuthClaims>(&key, &Validation::issuer(ISSUER).with_audience(aud), now)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_consent_codes_and_refresh_tokens() {
    let Some(pg) = pg_cluster::PgCluster::start() else {
        return;
    };
    let url = pg.fresh_database("issuer").await;
    // The operator's one-time setup: the schema and a user, from any process.
    let admin = PgStore::connect(&url).await.unwrap();
    admin
        .create_user("testuser", &hash_password("testpass").unwrap(), 0)
        .await
        .unwrap();

    let clock = Arc::new(ManualClock::from_system());
    let (a, b) = tokio::join!(instance(&url, clock.clone()), instance(&url, clock.clone()));
    let agent = Agent::start(7).await;
    let resource = Resource::start(8).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let now = clock.now();

    // Both instances raced to bootstrap the signing key; one key won and both publish it.
    let (ja, jb) = (jwks(&http, &a).await, jwks(&http, &b).await);
    assert_eq!(ja.keys.len(), 1, "one signing key");
    assert_eq!(ja.keys[0].kid, jb.keys[0].kid);

    // The agent asks instance A; the scope needs the user's consent.
    let rt = resource.token(ISSUER, &agent.id, &agent.jkt(), "user.read", now);
    let cb = agent.callback();
    let got = token_call(
        &http,
        &a,
        &agent,
        &[
            ("request_type", "auth"),
            ("resource_token", &rt),
            ("redirect_uri", &cb),
        ],
        now,
    )
    .await;
    assert_eq!(got.0, 200, "{got:?}");
    let request_token = got.1["request_token"].as_str().unwrap().to_owned();

    // Consent starts on A: the login page and the login itself.
    let page = http
        .get(format!("{}/agent/auth", a.base))
        .query(&[
            ("request_token", request_token.as_str()),
            ("redirect_uri", &cb),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let login = http
        .post(format!("{}/agent/auth", a.base))
        .form(&[
            ("request_token", request_token.as_str()),
            ("redirect_uri", &cb),
            ("action", "login"),
            ("username", "testuser"),
            ("password", "testpass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);

    // ... and finishes on B: B knows the session A created and the pending request.
    let consent_page = http.get(via(&b, &location(&login))).send().await.unwrap();
    assert_eq!(consent_page.status(), 200);
    let html = consent_page.text().await.unwrap();
    assert!(
        html.contains("Approve") && html.contains(&resource.id),
        "{html}"
    );
    let decided = http
        .post(format!("{}/agent/auth", b.base))
        .form(&[
            ("request_token", request_token.as_str()),
            ("redirect_uri", &cb),
            ("consent", "grant"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    let back = location(&decided);
    assert!(back.starts_with(&format!("{cb}?code=")), "{back}");
    let code = query_param(&back, "code").unwrap();

    // 16 concurrent redemptions, alternating between the instances: exactly one wins.
    let instances = Arc::new([a, b]);
    let agent = Arc::new(agent);
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (instances, agent, barrier) = (instances.clone(), agent.clone(), barrier.clone());
            let (http, code, cb) = (http.clone(), code.clone(), cb.clone());
            tokio::spawn(async move {
                let params = [
                    ("request_type", "code"),
                    ("code", code.as_str()),
                    ("redirect_uri", cb.as_str()),
                ];
                barrier.wait().await;
                (
                    i % 2,
                    token_call(&http, &instances[i % 2], &agent, &params, now).await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (which, (status, body)) = t.await.unwrap();
        match status {
            200 => winners.push((which, body)),
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            _ => panic!("unexpected answer {status} {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one redemption succeeds");
    let (which, issued) = winners.pop().unwrap();
    let token = verify(
        &jb,
        issued["auth_token"].as_str().unwrap(),
        &resource.id,
        now,
    );
    assert!(token.sub.is_some(), "a user-bound token");
    assert_eq!(token.scope.as_deref(), Some("user.read"));

    // The refresh token issued by one instance works at the other.
    let refresh = issued["refresh_token"].as_str().unwrap();
    let other = &instances[1 - which];
    let r = token_call(
        &http,
        other,
        &agent,
        &[("request_type", "refresh"), ("refresh_token", refresh)],
        now,
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    let again = verify(&ja, r.1["auth_token"].as_str().unwrap(), &resource.id, now);
    assert_eq!(again.sub, token.sub);
    assert_eq!(again.scope.as_deref(), Some("user.read"));

    let [a, b] = Arc::into_inner(instances).unwrap();
    for i in [a, b] {
        let _ = i.stop.send(());
        i.task.await.unwrap();
    }
}
