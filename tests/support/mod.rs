//! The loopback world shared by `conformance_http` and `load`: an agent server, an auth
//! server over a temporary SQLite file and a resource, with one manual clock, plus a raw
//! request builder that signs whatever `Signature-Input` it is given.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{AgentServer, Clock as AgentClock};
use aauth_core::httpsig::params::{parse_signature_input, serialize_signature};
use aauth_core::httpsig::{SignatureEncoding, signature_base};
use aauth_core::signature_key::JwksRef;
use aauth_core::{
    KeyScheme, RequestParts, ResourceClaims, Signer as _, SigningKey, UnixTime, content_digest,
};
use aauth_discovery::{Discovery, DiscoveryConfig, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{Clock as IssuerClock, IssuerConfig, ManualClock, serve};
use aauth_tower::{Requirement, ResourceConfig, ResourceConfigBuilder, VerifiedAgent};
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The wall-clock budget of one test.
pub(crate) const BUDGET: Duration = Duration::from_secs(120);

pub(crate) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(BUDGET, f)
        .await
        .expect("test timed out")
}

pub(crate) async fn bind() -> (TcpListener, String, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = l.local_addr().expect("addr").to_string();
    (l, format!("http://{authority}"), authority)
}

pub(crate) fn spawn(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
}

/// The GET profile: the four components every AAuth request covers (L-04).
pub(crate) const GET: &str = r#""@method" "@authority" "@path" "signature-key""#;
/// The body profile (L-06).
pub(crate) const BODY: &str =
    r#""@method" "@authority" "@path" "content-type" "content-digest" "signature-key""#;

/// An agent server, an auth server and a resource on loopback, sharing one manual clock.
pub(crate) struct Env {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) http: reqwest::Client,
    pub(crate) agent_id: String,
    pub(crate) agent_key: Arc<SigningKey>,
    pub(crate) callback: String,
    pub(crate) issuer: String,
    pub(crate) issuer_authority: String,
    pub(crate) resource: String,
    pub(crate) resource_authority: String,
    pub(crate) resource_key: SigningKey,
    pub(crate) resource_cfg: ResourceConfig<Discovery>,
}

impl Env {
    pub(crate) async fn start() -> Self {
        Self::start_with(EgressPolicy::dev(), DiscoveryConfig::default()).await
    }

    /// `policy` and `discovery` apply to the resource's key discovery.
    pub(crate) async fn start_with(policy: EgressPolicy, discovery: DiscoveryConfig) -> Self {
        Self::start_configured(policy, discovery, |b| b).await
    }

    /// As [`Env::start_with`], with `tune` applied to the resource's configuration.
    pub(crate) async fn start_configured(
        policy: EgressPolicy,
        discovery: DiscoveryConfig,
        tune: impl FnOnce(ResourceConfigBuilder<Discovery>) -> ResourceConfigBuilder<Discovery>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::from_system());

        let (agent_l, agent_id, _) = bind().await;
        let agent_key = Arc::new(SigningKey::from_seed(&[1; 32]).with_kid("key-1"));
        let c = clock.clone();
        let agent_server = AgentServer::new(&agent_id, Arc::clone(&agent_key))
            .with_clock(AgentClock::from_fn(move || IssuerClock::now(c.as_ref())));
        let callback = agent_server.redirect_uri();
        spawn(agent_l, agent_server.router());

        let (issuer_l, issuer, issuer_authority) = bind().await;
        let store = SqliteStore::open(&dir.path().join("issuer.db"))
            .await
            .expect("sqlite");
        store
            .create_user("alice", &hash_password("secret").expect("hash"), 0)
            .await
            .expect("user");
        let ic: Arc<dyn IssuerClock> = clock.clone();
        let config = IssuerConfig::new(&issuer, Discovery::new(EgressPolicy::dev()).expect("d"))
            .expect("issuer config")
            .with_clock(ic);
        tokio::spawn(async move {
            serve(config, store, issuer_l, std::future::pending::<()>())
                .await
                .expect("issuer");
        });

        let (res_l, resource, resource_authority) = bind().await;
        let resource_key = SigningKey::from_seed(&[2; 32]).with_kid("resource-key-1");
        let c = clock.clone();
        let resource_cfg = ResourceConfig::builder(
            &resource,
            SigningKey::from_seed(&[2; 32]).with_kid("resource-key-1"),
            Discovery::builder(policy)
                .config(discovery)
                .build()
                .expect("discovery"),
        )
        .auth_server(&issuer)
        .supported_scopes(["data.read", "user.read"])
        .clock(move || IssuerClock::now(c.as_ref()));
        let resource_cfg = tune(resource_cfg).build().expect("resource config");
        let cfg = &resource_cfg;
        let app = Router::new()
            .route(
                "/sig",
                get(echo)
                    .post(echo)
                    .layer(cfg.require(Requirement::Signature)),
            )
            .route("/id", get(echo).layer(cfg.require(Requirement::Identified)))
            .route(
                "/auth",
                get(echo)
                    .post(echo)
                    .layer(cfg.require(Requirement::auth_token(["data.read"]))),
            )
            .route(
                "/user",
                get(echo).layer(cfg.require(Requirement::auth_token(["user.read"]))),
            )
            .merge(cfg.metadata_router());
        spawn(res_l, app);

        Self {
            _dir: dir,
            clock,
            http,
            agent_id,
            agent_key,
            callback,
            issuer,
            issuer_authority,
            resource,
            resource_authority,
            resource_key,
            resource_cfg,
        }
    }

    pub(crate) fn now(&self) -> u64 {
        IssuerClock::now(self.clock.as_ref()).as_secs()
    }

    /// `sig1=(scheme=jwks id="<agent>" kid="key-1" well-known="aauth-agent")`.
    pub(crate) fn jwks_key(&self) -> String {
        KeyScheme::Jwks(JwksRef::Id {
            id: self.agent_id.clone(),
            kid: "key-1".into(),
            well_known: Some("aauth-agent".into()),
        })
        .to_header("sig1")
        .expect("header")
    }

    pub(crate) fn hwk_key(&self, key: &SigningKey) -> String {
        KeyScheme::Hwk(key.public_jwk())
            .to_header("sig1")
            .expect("header")
    }

    pub(crate) fn agent_jkt(&self) -> String {
        self.agent_key.public_jwk().thumbprint().expect("jkt")
    }

    /// `sig1=("…");created=<now>` over `components`.
    pub(crate) fn input(&self, components: &str) -> String {
        format!("sig1=({components});created={}", self.now())
    }

    pub(crate) fn resource_token(
        &self,
        aud: &str,
        agent: &str,
        jkt: &str,
        scope: &str,
        exp: u64,
    ) -> String {
        ResourceClaims::with_scope(
            &self.resource,
            aud,
            agent,
            jkt,
            scope,
            UnixTime::from_secs(exp),
        )
        .sign(&self.resource_key)
        .expect("resource token")
    }

    /// An auth token for the agent key from the auth server (autonomous grant).
    pub(crate) async fn auth_token(&self) -> String {
        let rt = self.resource_token(
            &self.issuer,
            &self.agent_id,
            &self.agent_jkt(),
            "data.read",
            self.now() + 300,
        );
        let (s, v) = self
            .token_call(&[
                ("request_type", "auth"),
                ("resource_token", &rt),
                ("redirect_uri", &self.callback),
            ])
            .await;
        assert_eq!(s, 200, "{v}");
        v["auth_token"].as_str().expect("auth_token").to_owned()
    }

    /// A well-formed signed `POST /agent/token` from the agent server (`scheme=jwks`).
    pub(crate) async fn token_call(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let body = form(params);
        let raw = Raw::post("/agent/token", &body).signed(
            &self.issuer_authority,
            &self.jwks_key(),
            &self.agent_key,
            &self.input(BODY),
        );
        raw.send(&self.http, &self.issuer).await
    }

    /// A well-formed signed GET of `path` at the resource.
    pub(crate) async fn get(
        &self,
        path: &str,
        signature_key: &str,
        key: &SigningKey,
    ) -> (u16, Value) {
        Raw::get(path)
            .signed(
                &self.resource_authority,
                signature_key,
                key,
                &self.input(GET),
            )
            .send(&self.http, &self.resource)
            .await
    }
}

pub(crate) async fn echo(agent: VerifiedAgent) -> axum::Json<Value> {
    axum::Json(json!({ "agent": agent.agent(), "scheme": agent.scheme(), "scope": agent.scope() }))
}

pub(crate) fn form(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// A request under construction: header fields exactly as they will be sent.
#[derive(Clone)]
pub(crate) struct Raw {
    pub(crate) method: &'static str,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl Raw {
    pub(crate) fn get(target: &str) -> Self {
        Self {
            method: "GET",
            target: target.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A form POST with its `Content-Type` and a correct `Content-Digest`.
    pub(crate) fn post(target: &str, body: &str) -> Self {
        Self {
            method: "POST",
            target: target.into(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                (
                    "content-digest".into(),
                    content_digest::sha256(body.as_bytes()),
                ),
            ],
            body: Some(body.as_bytes().to_vec()),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    /// Adds `Signature-Key`, `Signature-Input: <input>` and the signature of `key` over the
    /// RFC 9421 base for `authority`, under the label of `input`.
    pub(crate) fn signed(
        self,
        authority: &str,
        signature_key: &str,
        key: &SigningKey,
        input: &str,
    ) -> Self {
        let label = input.split('=').next().expect("label");
        self.signed_as(authority, signature_key, key, input, label)
    }

    /// As [`Raw::signed`], with the `Signature` member named `sig_label`.
    pub(crate) fn signed_as(
        self,
        authority: &str,
        signature_key: &str,
        key: &SigningKey,
        input: &str,
        sig_label: &str,
    ) -> Self {
        let mut out = self.header("signature-key", signature_key);
        let headers: Vec<(&str, &[u8])> = out
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let mut parts =
            RequestParts::new(out.method, authority, &out.target, &headers).with_scheme("http");
        if let Some(b) = &out.body {
            parts = parts.with_body(b);
        }
        let (_, params) = parse_signature_input(input).expect("test input parses");
        let base = signature_base(&parts, &params).expect("base");
        let sig = key.sign(&base);
        let signature = serialize_signature(sig_label, &sig, SignatureEncoding::Base64Url);
        out = out.header("signature-input", input);
        out.header("signature", &signature)
    }

    pub(crate) async fn send(&self, http: &reqwest::Client, base: &str) -> (u16, Value) {
        let method = self.method.parse().expect("method");
        let mut rb = http.request(method, format!("{base}{}", self.target));
        for (n, v) in &self.headers {
            rb = rb.header(n, v);
        }
        if let Some(b) = &self.body {
            rb = rb.body(b.clone());
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let agent_auth = resp
            .headers()
            .get("agent-auth")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = resp.bytes().await.expect("body");
        let mut v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "_text": String::from_utf8_lossy(&bytes) }));
        if let (Some(h), Some(o)) = (agent_auth, v.as_object_mut()) {
            o.insert("_agent_auth".into(), h.into());
        }
        (status, v)
    }
}

/// L-29: every refusal is JSON with `error` (and here `error_description`); the status,
/// the code and a phrase of the description are the ones named.
#[track_caller]
pub(crate) fn refused(answer: &(u16, Value), status: u16, code: &str, phrase: &str) {
    let (s, v) = answer;
    assert_eq!((*s, v["error"].as_str()), (status, Some(code)), "{v}");
    let d = v["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(phrase), "{phrase:?} not in {v}");
}

/// A resource refusal also carries an `Agent-Auth` challenge (L§4).
#[track_caller]
pub(crate) fn refused_by_resource(answer: &(u16, Value), status: u16, code: &str, phrase: &str) {
    refused(answer, status, code, phrase);
    let h = answer.1["_agent_auth"].as_str().unwrap_or_default();
    assert!(h.starts_with("httpsig"), "no Agent-Auth: {}", answer.1);
}

#[track_caller]
pub(crate) fn ok(answer: &(u16, Value)) {
    assert_eq!(answer.0, 200, "{}", answer.1);
}

/// A fixed-seed xorshift: reproducible hostile inputs without a dependency.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Bytes drawn from `alphabet`, up to `max` long.
    pub(crate) fn bytes(&mut self, alphabet: &[u8], max: usize) -> Vec<u8> {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}
