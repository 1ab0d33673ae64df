//! The verified-token cache of the resource middleware, over loopback: a repeated auth
//! token is served without asking discovery for the auth server's key, while the request
//! signature and the token's expiry are still enforced on every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::token::AuthClaims;
use aauth_core::{
    IssuerMetadata, Jwks, KeyScheme, RequestParts, Signer as _, SigningKey, UnixTime,
};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_tower::{Requirement, ResourceConfig};
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

const NOW: u64 = 1_768_785_919;

struct Harness {
    client: reqwest::Client,
    resource: String,
    auth: String,
    clock: Arc<AtomicU64>,
    config: ResourceConfig<Discovery>,
}

async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

fn agent_key() -> SigningKey {
    SigningKey::from_seed(&[1; 32]).with_kid("key-1")
}

fn auth_key() -> SigningKey {
    SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1")
}

/// An auth server publishing metadata and JWKS, and a resource with one auth-token route
/// whose clock the test moves.
async fn harness(cache_capacity: usize) -> Harness {
    let (l, auth) = bind().await;
    let meta = serde_json::to_vec(&IssuerMetadata::for_id(&auth)).unwrap();
    let jwks = serde_json::to_vec(&Jwks::new(vec![auth_key().public_jwk()])).unwrap();
    let app = Router::new()
        .route(
            "/.well-known/aauth-issuer",
            get(move || std::future::ready(([("content-type", "application/json")], meta.clone()))),
        )
        .route(
            "/jwks.json",
            get(move || std::future::ready(([("content-type", "application/json")], jwks.clone()))),
        );
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let (l, resource) = bind().await;
    let clock = Arc::new(AtomicU64::new(NOW));
    let c = Arc::clone(&clock);
    let discovery = Discovery::new(EgressPolicy::dev()).unwrap();
    let resource_key = SigningKey::from_seed(&[3; 32]).with_kid("resource-key-1");
    let config = ResourceConfig::builder(&resource, resource_key, discovery)
        .auth_server(&auth)
        .token_cache_capacity(cache_capacity)
        .clock(move || UnixTime::from_secs(c.load(Ordering::Relaxed)))
        .build()
        .unwrap();
    let app = Router::new().route(
        "/data",
        get(|| async { "ok" }).layer(config.require(Requirement::auth_token(["data.read"]))),
    );
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Harness {
        client,
        resource,
        auth,
        clock,
        config,
    }
}

impl Harness {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.clock.load(Ordering::Relaxed))
    }

    fn token(&self, lifetime: u64) -> String {
        AuthClaims::new(
            &self.auth,
            self.resource.as_str(),
            agent_key().public_jwk(),
            UnixTime::from_secs(NOW + lifetime),
        )
        .with_agent("https://agent.example")
        .with_scope("data.read")
        .sign(&auth_key())
        .unwrap()
    }

    /// GET /data signed now by `key` with `token`; the status and `error` code.
    async fn get(&self, token: &str, key: &SigningKey) -> (u16, String) {
        let sk = KeyScheme::Jwt { jwt: token.into() }
            .to_header("sig1")
            .unwrap();
        let authority = self.resource.trim_start_matches("http://");
        let req = RequestParts::new("GET", authority, "/data", &[]).with_scheme("http");
        let sig = sign_request(&req, &sk, key, &SignOptions::new(self.now())).unwrap();
        let mut r = self.client.get(format!("{}/data", self.resource));
        for (n, v) in sig.iter() {
            r = r.header(n, v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

async fn bounded(f: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out");
}

#[tokio::test]
async fn repeated_tokens_skip_the_issuer_key_but_not_the_request_signature() {
    bounded(async {
        let h = harness(16).await;
        let token = h.token(600);
        assert_eq!(h.get(&token, &agent_key()).await.0, 200);
        let cold = h.config.fetcher().stats();
        for _ in 0..4 {
            assert_eq!(h.get(&token, &agent_key()).await.0, 200);
        }
        let warm = h.config.fetcher().stats();
        // No discovery lookup at all on the warm path, not even a cache hit.
        assert_eq!(warm.cache_hits, cold.cache_hits);
        assert_eq!(
            (warm.metadata_fetches, warm.jwks_fetches),
            (cold.metadata_fetches, cold.jwks_fetches)
        );
        assert_eq!(h.config.token_cache_stats().hits, 4);

        // The cached token, presented by a signer that does not hold its cnf key.
        let thief = SigningKey::from_seed(&[9; 32]);
        assert_eq!(
            h.get(&token, &thief).await,
            (401, "invalid_signature".into())
        );
    })
    .await;
}

#[tokio::test]
async fn an_expired_cached_token_is_refused() {
    bounded(async {
        let h = harness(16).await;
        let token = h.token(60);
        assert_eq!(h.get(&token, &agent_key()).await.0, 200);
        h.clock.store(NOW + 60, Ordering::Relaxed);
        assert_eq!(
            h.get(&token, &agent_key()).await,
            (401, "invalid_auth_token".into())
        );
        assert_eq!(h.config.token_cache_stats().len, 0);
    })
    .await;
}

#[tokio::test]
async fn without_the_cache_every_request_resolves_the_key() {
    bounded(async {
        let h = harness(0).await;
        let token = h.token(600);
        for _ in 0..3 {
            assert_eq!(h.get(&token, &agent_key()).await.0, 200);
        }
        let s = h.config.fetcher().stats();
        assert_eq!(s.cache_hits, 2);
        assert_eq!(h.config.token_cache_stats().hits, 0);
    })
    .await;
}
