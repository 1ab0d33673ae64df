//! The TLS client configuration shared by every client this crate builds.

use std::sync::{Arc, OnceLock};

use rustls_platform_verifier::BuilderVerifierExt;

/// TLS could not be set up (no usable platform verifier).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TlsUnavailable;

/// rustls with the *ring* provider (no aws-lc C build) and the platform's certificate
/// verifier, built once per process (loading the platform roots is slow).
pub(crate) fn config() -> Result<rustls::ClientConfig, TlsUnavailable> {
    static TLS: OnceLock<Option<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .ok()?;
        Some(builder.with_no_client_auth())
    })
    .clone()
    .ok_or(TlsUnavailable)
}
