//! End-to-end tests of the resource middleware over real loopback sockets: an axum resource
//! with the reference's routes (`/data-hwk`, `/data-jwks`, `/data-auth`), an in-test agent
//! server and auth server publishing metadata + JWKS, and a reqwest client signing with
//! `aauth-core`. Every test is bounded by a timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use aauth_core::agent_auth::AgentAuth;
use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::token::{Actor, AgentClaims, AuthClaims, ResourceClaims, UnverifiedToken};
use aauth_core::{
    AgentMetadata, IssuerMetadata, Jwks, KeyScheme, RequestParts, Signer, SigningKey, UnixTime,
    Validation,
};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const NOW: u64 = 1_768_785_919;
const SCOPES: &str = "data.read data.write";

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

/// Runs a test body with a deadline.
async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out");
}

async fn serve(listener: TcpListener, app: Router) {
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    (l, format!("http://{addr}"))
}

fn json_route(body: Vec<u8>) -> axum::routing::MethodRouter {
    get(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    })
}

/// A party that publishes `/.well-known/{name}` and `/jwks.json`.
async fn publisher(name: &str, doc: impl Fn(&str) -> Vec<u8>, key: &SigningKey) -> String {
    let (l, base) = bind().await;
    let jwks = serde_json::to_vec(&Jwks::new(vec![key.public_jwk()])).unwrap();
    let app = Router::new()
        .route(&format!("/.well-known/{name}"), json_route(doc(&base)))
        .route("/jwks.json", json_route(jwks));
    serve(l, app).await;
    base
}

/// The reference's 200 body for an authorized request (reference notes §6).
async fn granted(agent: VerifiedAgent, method: http::Method) -> axum::Json<Value> {
    let mut body = json!({
        "message": "Access granted",
        "data": "This is protected data (authorized)",
        "scheme": agent.scheme(),
        "token_type": agent.token_type(),
        "method": method.as_str(),
        "agent": agent.agent(),
        "agent_delegate": agent.agent_delegate(),
        "scope": agent.scope(),
    });
    if let Some(sub) = agent.sub() {
        body["sub"] = json!(sub);
    }
    if let Some(act) = agent.act() {
        body["act"] = serde_json::to_value(act).unwrap();
    }
    body["jkt"] = json!(agent.signer_thumbprint());
    axum::Json(body)
}

/// The body the handler received, after the layer buffered and digest-checked it.
async fn echo(_: VerifiedAgent, body: axum::body::Bytes) -> axum::Json<Value> {
    axum::Json(json!({ "body": String::from_utf8_lossy(&body) }))
}

/// The auth token the caller presented, as a handler doing token exchange reads it.
async fn presented(agent: VerifiedAgent, headers: http::HeaderMap) -> axum::Json<Value> {
    axum::Json(json!({ "token": agent.presented_auth_token(&headers) }))
}

struct Harness {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the resource.
    resource: String,
    authority: String,
    agent: String,
    agent_key: SigningKey,
    auth: String,
    auth_key: SigningKey,
    rogue_auth: String,
    rogue_key: SigningKey,
    config: ResourceConfig<Discovery>,
}

async fn harness() -> Harness {
    harness_with(1024 * 1024).await
}

async fn harness_with(body_limit: usize) -> Harness {
    let agent_key = SigningKey::from_seed(&[1; 32]).with_kid("key-1");
    let auth_key = SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1");
    let rogue_key = SigningKey::from_seed(&[4; 32]).with_kid("auth-key-1");
    let resource_key = SigningKey::from_seed(&[3; 32]).with_kid("resource-key-1");
    let agent = publisher(
        "aauth-agent",
        |b| serde_json::to_vec(&AgentMetadata::for_id(b)).unwrap(),
        &agent_key,
    )
    .await;
    let issuer_doc = |b: &str| serde_json::to_vec(&IssuerMetadata::for_id(b)).unwrap();
    let auth = publisher("aauth-issuer", issuer_doc, &auth_key).await;
    let rogue_auth = publisher("aauth-issuer", issuer_doc, &rogue_key).await;

    let (l, resource) = bind().await;
    let authority = resource.trim_start_matches("http://").to_owned();
    let discovery = Discovery::new(EgressPolicy::dev()).unwrap();
    let config = ResourceConfig::builder(&resource, resource_key, discovery)
        .auth_server(&auth)
        .supported_scopes(["data.read", "data.write"])
        .body_limit(body_limit)
        .clock(now)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/data-hwk",
            get(granted)
                .post(granted)
                .layer(config.require(Requirement::Signature)),
        )
        .route(
            "/data-jwks",
            get(granted).layer(config.require(Requirement::Identified)),
        )
        .route(
            "/data-auth",
            get(granted)
                .post(granted)
                .layer(config.require(Requirement::auth_token(["data.read", "data.write"]))),
        )
        .route(
            "/presented",
            get(presented).layer(config.require(Requirement::Identified)),
        )
        .route(
            "/echo",
            get(echo)
                .post(echo)
                .layer(config.require(Requirement::Signature)),
        )
        .route("/open", get(granted))
        .merge(config.metadata_router());
    serve(l, app).await;

    // reqwest is built with `rustls-no-provider` (unified with aauth-discovery).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Harness {
        client,
        resource,
        authority,
        agent,
        agent_key,
        auth,
        auth_key,
        rogue_auth,
        rogue_key,
        config,
    }
}

/// A request to sign and send.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    body: Option<&'a [u8]>,
    /// The authority the signature covers (the resource's unless a test lies).
    authority: Option<&'a str>,
    created: UnixTime,
}

impl<'a> Call<'a> {
    fn get(path: &'a str) -> Self {
        Self {
            method: "GET",
            path,
            body: None,
            authority: None,
            created: now(),
        }
    }

    fn post(path: &'a str, body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            body: Some(body),
            ..Self::get(path)
        }
    }
}

impl Harness {
    fn hwk(&self) -> String {
        KeyScheme::Hwk(self.agent_key.public_jwk())
            .to_header("sig1")
            .unwrap()
    }

    fn jwks(&self) -> String {
        KeyScheme::Jwks(JwksRef::Id {
            id: self.agent.clone(),
            kid: "key-1".into(),
            well_known: Some("aauth-agent".into()),
        })
        .to_header("sig1")
        .unwrap()
    }

    fn jwt(token: String) -> String {
        KeyScheme::Jwt { jwt: token }.to_header("sig1").unwrap()
    }

    fn delegate_key() -> SigningKey {
        SigningKey::from_seed(&[5; 32])
    }

    fn agent_token(&self) -> String {
        AgentClaims::new(
            &self.agent,
            "delegate-1",
            Self::delegate_key().public_jwk(),
            now().saturating_add(600),
        )
        .sign(&self.agent_key)
        .unwrap()
    }

    fn auth_claims(&self, scope: &str) -> AuthClaims {
        AuthClaims::new(
            &self.auth,
            self.resource.as_str(),
            self.agent_key.public_jwk(),
            now().saturating_add(3600),
        )
        .with_agent(&self.agent)
        .with_scope(scope)
    }

    fn auth_token(&self, scope: &str) -> String {
        self.auth_claims(scope).sign(&self.auth_key).unwrap()
    }

    /// The signed headers for `call` (Content-Type first when there is a body).
    fn sign(&self, call: &Call<'_>, sk: &str, key: &SigningKey) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        if call.body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let borrowed: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let authority = call.authority.unwrap_or(&self.authority);
        let mut parts =
            RequestParts::new(call.method, authority, call.path, &borrowed).with_scheme("http");
        if let Some(b) = call.body {
            parts = parts.with_body(b);
        }
        let sig = sign_request(&parts, sk, key, &SignOptions::new(call.created)).unwrap();
        headers.extend(sig.iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
        headers
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.resource));
        for (n, v) in headers {
            req = req.header(n.as_str(), v.as_str());
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let agent_auth = resp
            .headers()
            .get("agent-auth")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            agent_auth,
            body,
        }
    }

    async fn call(&self, call: Call<'_>, sk: &str, key: &SigningKey) -> Reply {
        let headers = self.sign(&call, sk, key);
        self.send(call.method, call.path, &headers, call.body).await
    }

    /// Verifies a resource token with the resource's published JWKS.
    async fn verify_resource_token(&self, token: &str) -> ResourceClaims {
        let bytes = self
            .client
            .get(format!("{}/jwks.json", self.resource))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let jwks = Jwks::from_json(&bytes).unwrap();
        let t = UnverifiedToken::parse(token).unwrap();
        let key = jwks.select(t.kid()).unwrap();
        t.verify::<ResourceClaims>(
            &key,
            &Validation::issuer(&self.resource).with_audience(&self.auth),
            now(),
        )
        .unwrap()
        .into_claims()
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    agent_auth: Option<String>,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str, agent_auth: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["error"], code, "{self:?}");
        assert!(self.body["error_description"].is_string(), "{self:?}");
        assert_eq!(self.agent_auth.as_deref(), Some(agent_auth), "{self:?}");
    }

    fn challenge(&self) -> AgentAuth {
        AgentAuth::parse(self.agent_auth.as_deref().unwrap()).unwrap()
    }
}

#[tokio::test]
async fn metadata_documents_have_the_reference_shape() {
    bounded(async {
        let h = harness().await;
        let r = &h.resource;
        let doc = h
            .client
            .get(format!("{r}/.well-known/aauth-resource"))
            .send()
            .await
            .unwrap();
        assert_eq!(doc.headers()["content-type"], "application/json");
        assert_eq!(
            doc.text().await.unwrap(),
            format!(
                r#"{{"resource":"{r}","jwks_uri":"{r}/jwks.json","resource_token_endpoint":"{r}/resource/token","supported_scopes":["data.read","data.write"]}}"#
            )
        );
        let jwks = h.client.get(format!("{r}/jwks.json")).send().await.unwrap();
        let jwks = jwks.text().await.unwrap();
        let x = SigningKey::from_seed(&[3; 32]).public_jwk().x.unwrap();
        assert_eq!(
            jwks,
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"resource-key-1"}}]}}"#)
        );
    })
    .await;
}

#[tokio::test]
async fn hwk_is_granted_on_a_signature_route() {
    bounded(async {
        let h = harness().await;
        let r = h.call(Call::get("/data-hwk"), &h.hwk(), &h.agent_key).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body,
            json!({
                "message": "Access granted", "data": "This is protected data (authorized)",
                "scheme": "hwk", "token_type": null, "method": "GET", "agent": null,
                "agent_delegate": null, "scope": null,
                "jkt": h.agent_key.public_jwk().thumbprint().unwrap(),
            })
        );
        // A body is buffered, digest-checked and handed on.
        let r = h
            .call(
                Call::post("/data-hwk", br#"{"a":1}"#),
                &h.hwk(),
                &h.agent_key,
            )
            .await;
        assert_eq!(
            (r.status, &r.body["method"]),
            (200, &json!("POST")),
            "{r:?}"
        );
    })
    .await;
}

/// The layer hands the handler the body it buffered and checked, and an empty one for a
/// request without a body.
#[tokio::test]
async fn the_handler_receives_the_verified_body() {
    bounded(async {
        let h = harness().await;
        let r = h
            .call(Call::post("/echo", br#"{"a":1}"#), &h.hwk(), &h.agent_key)
            .await;
        assert_eq!((r.status, &r.body), (200, &json!({ "body": r#"{"a":1}"# })));
        let r = h.call(Call::get("/echo"), &h.hwk(), &h.agent_key).await;
        assert_eq!((r.status, &r.body), (200, &json!({ "body": "" })));
    })
    .await;
}

#[tokio::test]
async fn jwks_and_agent_tokens_are_granted_on_an_identified_route() {
    bounded(async {
        let h = harness().await;
        let r = h
            .call(Call::get("/data-jwks"), &h.jwks(), &h.agent_key)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["scheme"], "jwks");
        assert_eq!(r.body["agent"], h.agent.as_str());

        let sk = Harness::jwt(h.agent_token());
        let r = h
            .call(Call::get("/data-jwks"), &sk, &Harness::delegate_key())
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["scheme"], "jwt");
        assert_eq!(r.body["token_type"], "agent+jwt");
        assert_eq!(r.body["agent"], h.agent.as_str());
        assert_eq!(r.body["agent_delegate"], "delegate-1");
    })
    .await;
}

/// Only a verified auth token is handed on for exchange: not an agent token, not a key.
#[tokio::test]
async fn the_presented_auth_token_is_only_an_auth_token() {
    bounded(async {
        let h = harness().await;
        let token = h.auth_token("data.read");
        let r = h
            .call(
                Call::get("/presented"),
                &Harness::jwt(token.clone()),
                &h.agent_key,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["token"], token.as_str());

        let sk = Harness::jwt(h.agent_token());
        let r = h
            .call(Call::get("/presented"), &sk, &Harness::delegate_key())
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["token"], Value::Null);

        let r = h
            .call(Call::get("/presented"), &h.jwks(), &h.agent_key)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["token"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn auth_token_is_granted_with_claims() {
    bounded(async {
        let h = harness().await;
        let token = h
            .auth_claims(SCOPES)
            .with_sub("user-1")
            .with_agent_delegate("delegate-9")
            .with_act(Actor::new("https://upstream.example"))
            .sign(&h.auth_key)
            .unwrap();
        let r = h
            .call(Call::get("/data-auth"), &Harness::jwt(token), &h.agent_key)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body,
            json!({
                "message": "Access granted", "data": "This is protected data (authorized)",
                "scheme": "jwt", "token_type": "auth+jwt", "method": "GET",
                "agent": h.agent, "agent_delegate": "delegate-9", "scope": SCOPES,
                "sub": "user-1", "act": {"agent": "https://upstream.example"},
                "jkt": h.agent_key.public_jwk().thumbprint().unwrap(),
            })
        );
        // A superset of the required scopes is fine, and so is a POST with a body.
        let token = h.auth_token("data.read profile.read data.write");
        let r = h
            .call(
                Call::post("/data-auth", b"{}"),
                &Harness::jwt(token),
                &h.agent_key,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn unsigned_requests_are_challenged_per_route() {
    bounded(async {
        let h = harness().await;
        for (path, challenge) in [
            ("/data-hwk", "httpsig"),
            ("/data-jwks", "httpsig; identity=?1"),
            ("/data-auth", "httpsig; identity=?1"),
            // No layer: the extractor itself refuses.
            ("/open", "httpsig"),
        ] {
            let r = h.send("GET", path, &[], None).await;
            r.assert_error(401, "invalid_request", challenge);
        }
    })
    .await;
}

#[tokio::test]
async fn pseudonymous_callers_are_asked_for_identity() {
    bounded(async {
        let h = harness().await;
        for path in ["/data-jwks", "/data-auth"] {
            let r = h.call(Call::get(path), &h.hwk(), &h.agent_key).await;
            r.assert_error(401, "invalid_request", "httpsig; identity=?1");
        }
    })
    .await;
}

#[tokio::test]
async fn identified_agents_get_a_bound_resource_token() {
    bounded(async {
        let h = harness().await;
        let jkt = h.agent_key.public_jwk().thumbprint().unwrap();
        for (sk, key, jkt) in [
            (h.jwks(), &h.agent_key, jkt),
            (
                Harness::jwt(h.agent_token()),
                &Harness::delegate_key(),
                Harness::delegate_key().public_jwk().thumbprint().unwrap(),
            ),
        ] {
            let r = h.call(Call::get("/data-auth"), &sk, key).await;
            assert_eq!(r.status, 401, "{r:?}");
            assert_eq!(r.body["error"], "invalid_request");
            let c = r.challenge();
            assert!(c.auth_token);
            assert_eq!(c.auth_server.as_deref(), Some(h.auth.as_str()));
            let raw = r.agent_auth.as_deref().unwrap();
            assert!(
                raw.starts_with("httpsig; auth-token; resource_token=\""),
                "{raw}"
            );

            let claims = h
                .verify_resource_token(c.resource_token.as_deref().unwrap())
                .await;
            assert_eq!(claims.iss, h.resource);
            assert_eq!(claims.agent, h.agent);
            assert_eq!(claims.agent_jkt, jkt);
            assert_eq!(claims.scope.as_deref(), Some(SCOPES));
            assert_eq!(claims.exp, NOW + 300);
        }
    })
    .await;
}

#[tokio::test]
async fn insufficient_scope_is_challenged_again() {
    bounded(async {
        let h = harness().await;
        let sk = Harness::jwt(h.auth_token("data.read"));
        let r = h.call(Call::get("/data-auth"), &sk, &h.agent_key).await;
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(r.body["error"], "invalid_scope");
        let c = r.challenge();
        assert!(c.auth_token);
        let claims = h
            .verify_resource_token(c.resource_token.as_deref().unwrap())
            .await;
        assert_eq!(claims.scope.as_deref(), Some(SCOPES));
        assert_eq!(
            claims.agent_jkt,
            h.agent_key.public_jwk().thumbprint().unwrap()
        );
        // The same token is enough where no scope is required.
        let r = h.call(Call::get("/data-jwks"), &sk, &h.agent_key).await;
        assert_eq!(r.status, 200, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn bad_signatures_are_rejected() {
    bounded(async {
        let h = harness().await;
        // Signed by another key than the one named.
        let other = SigningKey::from_seed(&[9; 32]);
        let r = h.call(Call::get("/data-hwk"), &h.hwk(), &other).await;
        r.assert_error(401, "invalid_signature", "httpsig");
        let r = h.call(Call::get("/data-jwks"), &h.jwks(), &other).await;
        r.assert_error(401, "invalid_signature", "httpsig");
        // An auth token whose cnf key did not sign.
        let sk = Harness::jwt(h.auth_token(SCOPES));
        let r = h.call(Call::get("/data-auth"), &sk, &other).await;
        r.assert_error(401, "invalid_signature", "httpsig; auth-token");
        // Signed for another path.
        let mut headers = h.sign(&Call::get("/data-jwks"), &h.hwk(), &h.agent_key);
        let r = h.send("GET", "/data-hwk", &headers, None).await;
        r.assert_error(401, "invalid_signature", "httpsig");
        // One signature character changed.
        let sig = headers
            .iter_mut()
            .find(|(n, _)| n.as_str() == "Signature")
            .unwrap();
        let i = sig.1.len() - 3;
        let c = if &sig.1[i..=i] == "A" { "B" } else { "A" };
        sig.1.replace_range(i..=i, c);
        let r = h.send("GET", "/data-jwks", &headers, None).await;
        r.assert_error(401, "invalid_signature", "httpsig");
    })
    .await;
}

#[tokio::test]
async fn stale_or_future_created_is_rejected() {
    bounded(async {
        let h = harness().await;
        for created in [NOW - 120, NOW + 120] {
            let call = Call {
                created: UnixTime::from_secs(created),
                ..Call::get("/data-hwk")
            };
            let r = h.call(call, &h.hwk(), &h.agent_key).await;
            r.assert_error(401, "invalid_signature", "httpsig");
        }
        // Within the 60 s window.
        let call = Call {
            created: UnixTime::from_secs(NOW - 60),
            ..Call::get("/data-hwk")
        };
        assert_eq!(h.call(call, &h.hwk(), &h.agent_key).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn auth_tokens_for_another_audience_or_expired_are_rejected() {
    bounded(async {
        let h = harness().await;
        let mut claims = h.auth_claims(SCOPES);
        claims.aud = "http://127.0.0.1:1".into();
        let sk = Harness::jwt(claims.sign(&h.auth_key).unwrap());
        let r = h.call(Call::get("/data-auth"), &sk, &h.agent_key).await;
        r.assert_error(401, "invalid_auth_token", "httpsig; auth-token");

        let mut claims = h.auth_claims(SCOPES);
        claims.exp = NOW - 1;
        let sk = Harness::jwt(claims.sign(&h.auth_key).unwrap());
        let r = h.call(Call::get("/data-auth"), &sk, &h.agent_key).await;
        r.assert_error(401, "invalid_auth_token", "httpsig; auth-token");

        // Signed by a key the auth server does not publish.
        let sk = Harness::jwt(h.auth_claims(SCOPES).sign(&h.rogue_key).unwrap());
        let r = h.call(Call::get("/data-auth"), &sk, &h.agent_key).await;
        r.assert_error(401, "invalid_auth_token", "httpsig; auth-token");
    })
    .await;
}

#[tokio::test]
async fn untrusted_issuers_are_rejected_without_fetching() {
    bounded(async {
        let h = harness().await;
        let mut claims = h.auth_claims(SCOPES);
        claims.iss = h.rogue_auth.clone();
        let sk = Harness::jwt(claims.sign(&h.rogue_key).unwrap());
        let r = h.call(Call::get("/data-auth"), &sk, &h.agent_key).await;
        r.assert_error(401, "invalid_auth_token", "httpsig; auth-token");
        let stats = h.config.fetcher().stats();
        assert_eq!((stats.metadata_fetches, stats.jwks_fetches), (0, 0));
    })
    .await;
}

#[tokio::test]
async fn a_tampered_body_with_its_old_digest_is_rejected() {
    bounded(async {
        let h = harness().await;
        let call = Call::post("/data-hwk", br#"{"amount":1}"#);
        let headers = h.sign(&call, &h.hwk(), &h.agent_key);
        let r = h
            .send("POST", "/data-hwk", &headers, Some(br#"{"amount":1000}"#))
            .await;
        r.assert_error(401, "invalid_signature", "httpsig");
        // The original body passes.
        let r = h
            .send("POST", "/data-hwk", &headers, Some(br#"{"amount":1}"#))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn the_host_header_is_ignored() {
    bounded(async {
        let h = harness().await;
        // Signed for the canonical authority, sent with a spoofed Host: accepted.
        let mut headers = h.sign(&Call::get("/data-hwk"), &h.hwk(), &h.agent_key);
        headers.push(("host".into(), "evil.example".into()));
        headers.push(("x-forwarded-host".into(), "evil.example".into()));
        let r = h.send("GET", "/data-hwk", &headers, None).await;
        assert_eq!(r.status, 200, "{r:?}");
        // Signed for the spoofed authority: refused even though Host agrees with it.
        let call = Call {
            authority: Some("evil.example"),
            ..Call::get("/data-hwk")
        };
        let mut headers = h.sign(&call, &h.hwk(), &h.agent_key);
        headers.push(("host".into(), "evil.example".into()));
        let r = h.send("GET", "/data-hwk", &headers, None).await;
        r.assert_error(401, "invalid_signature", "httpsig");
    })
    .await;
}

#[tokio::test]
async fn missing_signature_headers_are_rejected() {
    bounded(async {
        let h = harness().await;
        let headers = h.sign(&Call::get("/data-hwk"), &h.hwk(), &h.agent_key);
        for missing in ["Signature", "Signature-Input", "Signature-Key"] {
            let kept: Vec<_> = headers
                .iter()
                .filter(|(n, _)| n.as_str() != missing)
                .cloned()
                .collect();
            let r = h.send("GET", "/data-hwk", &kept, None).await;
            assert_eq!(r.status, 401, "{missing}: {r:?}");
            assert_eq!(r.agent_auth.as_deref(), Some("httpsig"), "{missing}");
            assert!(r.body["error"].is_string(), "{missing}: {r:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn malformed_headers_never_cause_a_server_error() {
    bounded(async {
        let h = harness().await;
        let valid = h.sign(&Call::get("/data-auth"), &h.jwks(), &h.agent_key);
        let garbage = [
            "",
            " ",
            "sig1",
            "sig1=",
            "sig1=(",
            "sig1=()",
            "sig1=:::",
            "sig1=:!!!!:",
            "sig1=(scheme=)",
            "sig1=(scheme=hwk)",
            "sig1=(scheme=hwk kty=\"OKP\" crv=\"Ed25519\" x=\"AAAA\")",
            "sig1=(scheme=jwt jwt=\"a.b.c\")",
            "sig1=(scheme=jwt jwt=\"eyJhbGciOiJub25lIn0.e30.\")",
            "sig1=(scheme=jwks id=\"http://127.0.0.1:1\" kid=\"k\" jwks=\"http://x\")",
            "sig1=(scheme=x509 x5u=\"https://x\" x5t=\"y\")",
            "sig1=(\"@method\" \"@authority\");created=abc",
            "sig1=(\"@method\");created=1768785919",
            "sig1=(\"@method\" \"@authority\" \"@path\" \"signature-key\");created=99999999999999999999999",
            "sig1=(\"@method\" \"@authority\" \"@path\" \"signature-key\");created=-1",
            "sig1=(\"@unknown\" \"signature-key\");created=1768785919",
            "sig1=:AAAA:, sig2=:AAAA:",
            "a=1, b=2, c=3",
            "\u{7f}\u{1}",
            "sig1=(scheme=jwks id=\"http://127.0.0.1:1/\u{e9}\" kid=\"k\")",
        ];
        let mut count = 0;
        for header in ["Signature", "Signature-Input", "Signature-Key"] {
            for g in garbage {
                if reqwest::header::HeaderValue::from_str(g).is_err() {
                    continue;
                }
                let mut headers = valid.clone();
                headers.iter_mut().find(|(n, _)| n.as_str() == header).unwrap().1 = g.to_owned();
                let r = h.send("GET", "/data-auth", &headers, None).await;
                assert!(
                    matches!(r.status, 400 | 401),
                    "{header}: {g:?} -> {r:?}"
                );
                assert!(r.body["error"].is_string(), "{header}: {g:?} -> {r:?}");
                assert!(r.agent_auth.is_some(), "{header}: {g:?} -> {r:?}");
                count += 1;
            }
        }
        assert!(count > 60);
        // Repeated headers (two signatures) are refused too.
        let mut headers = valid.clone();
        headers.push(("Signature".into(), "sig2=:AAAA:".into()));
        let r = h.send("GET", "/data-auth", &headers, None).await;
        assert!(matches!(r.status, 400 | 401), "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn the_warm_path_makes_no_discovery_fetches() {
    bounded(async {
        let h = harness().await;
        let auth = Harness::jwt(h.auth_token(SCOPES));
        let delegate = Harness::jwt(h.agent_token());
        let first = [
            h.call(Call::get("/data-jwks"), &h.jwks(), &h.agent_key)
                .await,
            h.call(Call::get("/data-auth"), &auth, &h.agent_key).await,
            h.call(Call::get("/data-jwks"), &delegate, &Harness::delegate_key())
                .await,
        ];
        assert!(first.iter().all(|r| r.status == 200), "{first:?}");
        let cold = h.config.fetcher().stats();
        // Agent metadata + JWKS (shared by jwks and the agent token), issuer metadata + JWKS.
        assert_eq!((cold.metadata_fetches, cold.jwks_fetches), (2, 2));
        for _ in 0..5 {
            assert_eq!(
                h.call(Call::get("/data-jwks"), &h.jwks(), &h.agent_key)
                    .await
                    .status,
                200
            );
            assert_eq!(
                h.call(Call::get("/data-auth"), &auth, &h.agent_key)
                    .await
                    .status,
                200
            );
            assert_eq!(
                h.call(Call::get("/data-jwks"), &delegate, &Harness::delegate_key())
                    .await
                    .status,
                200
            );
        }
        let warm = h.config.fetcher().stats();
        assert_eq!(
            (warm.metadata_fetches, warm.jwks_fetches),
            (cold.metadata_fetches, cold.jwks_fetches)
        );
        // Only the 5 `jwks` requests look a key up; the 10 `jwt` requests are served by the
        // verified-token cache without asking discovery for the issuer's key.
        assert_eq!(warm.cache_hits - cold.cache_hits, 5);
        let tokens = h.config.token_cache_stats();
        assert_eq!((tokens.hits, tokens.misses, tokens.len), (10, 2, 2));
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    bounded(async {
        let h = harness_with(16).await;
        let body = [b'x'; 17];
        let r = h
            .call(Call::post("/data-hwk", &body), &h.hwk(), &h.agent_key)
            .await;
        assert_eq!(r.status, 413, "{r:?}");
        assert_eq!(r.body["error"], "invalid_request");
        let body = [b'x'; 16];
        let r = h
            .call(Call::post("/data-hwk", &body), &h.hwk(), &h.agent_key)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn unresolvable_keys_are_a_401_not_a_500() {
    bounded(async {
        let h = harness().await;
        for (id, kid) in [
            (h.agent.as_str(), "no-such-kid"),
            ("http://127.0.0.1:1", "key-1"),
        ] {
            let sk = KeyScheme::Jwks(JwksRef::Id {
                id: id.into(),
                kid: kid.into(),
                well_known: Some("aauth-agent".into()),
            })
            .to_header("sig1")
            .unwrap();
            let r = h.call(Call::get("/data-jwks"), &sk, &h.agent_key).await;
            r.assert_error(401, "invalid_signature", "httpsig");
        }
    })
    .await;
}
