//! The in-test parties the auth server talks to, shared by the issuer test binaries: an
//! agent server and a resource, each publishing its metadata and JWKS on a loopback port.

#![allow(dead_code)] // each test binary uses a different part

use aauth_core::metadata::ResourceMetadata;
use aauth_core::{Jwk, ResourceClaims, Signer as _, SigningKey, UnixTime};
use axum::Router;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

/// Serves `router` on `listener` in the background.
pub(crate) async fn spawn(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
}

/// Serves a party's metadata document at `well_known` and `key` as its `/jwks.json`.
async fn publish(l: TcpListener, well_known: &str, meta: serde_json::Value, key: &SigningKey) {
    let jwks = json!({ "keys": [key.public_jwk()] });
    let router = Router::new()
        .route(well_known, get(move || async move { axum::Json(meta) }))
        .route("/jwks.json", get(move || async move { axum::Json(jwks) }));
    spawn(l, router).await;
}

pub(crate) async fn bind() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

/// An agent server publishing `/.well-known/aauth-agent` and `/jwks.json` (kid `key-1`).
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) key: SigningKey,
}

impl Agent {
    pub(crate) async fn start(seed: u8) -> Self {
        let (l, id) = bind().await;
        let key = SigningKey::from_seed(&[seed; 32]).with_kid("key-1");
        let meta = json!({ "agent": id, "jwks_uri": format!("{id}/jwks.json") });
        publish(l, "/.well-known/aauth-agent", meta, &key).await;
        Self { id, key }
    }

    pub(crate) fn jwk(&self) -> Jwk {
        self.key.public_jwk()
    }

    pub(crate) fn jkt(&self) -> String {
        self.jwk().thumbprint().unwrap()
    }

    pub(crate) fn jwks_header(&self) -> String {
        format!(
            r#"sig1=(scheme=jwks id="{}" kid="key-1" well-known="aauth-agent")"#,
            self.id
        )
    }

    pub(crate) fn callback(&self) -> String {
        format!("{}/callback", self.id)
    }
}

/// A resource publishing `/.well-known/aauth-resource` and `/jwks.json` (kid
/// `resource-key-1`) that mints resource tokens.
pub(crate) struct Resource {
    pub(crate) id: String,
    pub(crate) key: SigningKey,
}

impl Resource {
    pub(crate) async fn start(seed: u8) -> Self {
        let (l, id) = bind().await;
        let key = SigningKey::from_seed(&[seed; 32]).with_kid("resource-key-1");
        let meta = serde_json::to_value(ResourceMetadata::for_id(&id)).unwrap();
        publish(l, "/.well-known/aauth-resource", meta, &key).await;
        Self { id, key }
    }

    pub(crate) fn token(
        &self,
        aud: &str,
        agent: &str,
        jkt: &str,
        scope: &str,
        now: UnixTime,
    ) -> String {
        ResourceClaims::with_scope(&self.id, aud, agent, jkt, scope, now.saturating_add(600))
            .sign(&self.key)
            .unwrap()
    }
}
