//! A loopback test server for metadata and JWKS documents, with per-path answers, hit
//! counters, delays, redirects, huge and endless bodies.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aauth_core::{Jwk, SigningKey};
use aauth_discovery::{Discovery, DiscoveryConfig, EgressPolicy, ManualClock};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

/// One configured answer.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub delay: Duration,
    /// Stream spaces forever, without a Content-Length.
    pub endless: bool,
}

impl Route {
    pub fn json(v: &Value) -> Self {
        Self {
            status: 200,
            body: serde_json::to_vec(v).unwrap(),
            cache_control: None,
            content_type: Some("application/json".into()),
            location: None,
            delay: Duration::ZERO,
            endless: false,
        }
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::json(&json!({}))
        }
    }

    pub fn cache(mut self, cc: &str) -> Self {
        self.cache_control = Some(cc.into());
        self
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Clone, Default)]
struct Shared {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

pub struct Server {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` (or `http://[::1]:PORT`), no trailing slash.
    pub base: String,
    shared: Shared,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await.unwrap()
    }

    pub async fn start_on(bind: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = match addr {
            SocketAddr::V4(a) => format!("http://{a}"),
            SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
        };
        Ok(Self { addr, base, shared })
    }

    /// `host:port` for `EgressPolicy::allow_host`.
    pub fn authority(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.into(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.shared.hits.lock().unwrap().values().sum()
    }

    /// Serves `aauth-agent` metadata for this server's base URL pointing at `/jwks.json`,
    /// and a JWKS with the given keys.
    pub fn agent(&self, keys: &[(u8, &str)], jwks_cache: Option<&str>) {
        self.set(
            "/.well-known/aauth-agent",
            Route::json(&json!({"agent": self.base, "jwks_uri": self.url("/jwks.json")}))
                .cache("max-age=3600"),
        );
        self.jwks("/jwks.json", keys, jwks_cache);
    }

    pub fn jwks(&self, path: &str, keys: &[(u8, &str)], cache: Option<&str>) {
        let mut route = Route::json(&jwks(keys));
        route.cache_control = cache.map(Into::into);
        self.set(path, route);
    }
}

/// A JWKS of Ed25519 keys made from fixed seeds.
pub fn jwks(keys: &[(u8, &str)]) -> Value {
    let keys: Vec<Jwk> = keys
        .iter()
        .map(|(seed, kid)| Jwk::ed25519(&public(*seed), Some((*kid).into())))
        .collect();
    json!({ "keys": keys })
}

/// The public key for a seed, memoized: key derivation is slow in debug builds.
pub fn public(seed: u8) -> [u8; 32] {
    static KEYS: OnceLock<Mutex<HashMap<u8, [u8; 32]>>> = OnceLock::new();
    *KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(seed)
        .or_insert_with(|| SigningKey::from_seed(&[seed; 32]).public_bytes())
}

async fn handle(State(s): State<Shared>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let route = s.routes.lock().unwrap().get(&path).cloned();
    let Some(route) = route else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    let mut b = Response::builder().status(route.status);
    if let Some(cc) = &route.cache_control {
        b = b.header(header::CACHE_CONTROL, cc);
    }
    if let Some(ct) = &route.content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    if let Some(loc) = &route.location {
        b = b.header(header::LOCATION, loc);
    }
    let body = if route.endless {
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        Body::from_stream(futures_util::stream::repeat_with(move || {
            Ok::<_, Infallible>(chunk.clone())
        }))
    } else {
        Body::from(route.body)
    };
    b.body(body).unwrap()
}

/// Discovery for loopback tests: dev policy, a manual clock, and the given config.
pub fn discovery(config: DiscoveryConfig) -> (Discovery, Arc<ManualClock>) {
    discovery_with(EgressPolicy::dev(), config)
}

pub fn discovery_with(
    policy: EgressPolicy,
    config: DiscoveryConfig,
) -> (Discovery, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let d = Discovery::builder(policy)
        .config(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    (d, clock)
}
