//! The resource's own documents: metadata and JWKS.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;

use crate::config::ResourceConfig;

impl<K: Send + Sync + 'static> ResourceConfig<K> {
    /// A router serving `GET /.well-known/aauth-resource` (the [`ResourceMetadata`]
    /// document, byte for byte the reference's shape: `resource`, `jwks_uri`,
    /// `resource_token_endpoint`, then `supported_scopes` when configured) and
    /// `GET /jwks.json` (the resource's public key, with its `kid`). Both are serialized once,
    /// when the configuration is built. Merge it into the application's router.
    ///
    /// [`ResourceMetadata`]: aauth_core::ResourceMetadata
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let metadata = self.inner.metadata_json.clone();
        let jwks = self.inner.jwks_json.clone();
        Router::new()
            .route(
                "/.well-known/aauth-resource",
                get(move || std::future::ready(json(metadata.clone()))),
            )
            .route(
                "/jwks.json",
                get(move || std::future::ready(json(jwks.clone()))),
            )
    }
}

fn json(body: Bytes) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
}
