//! One bounded GET of a JSON document through the egress-checked client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aauth_http::Freshness;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode, Url, redirect};
use rustls_platform_verifier::BuilderVerifierExt;
use tracing::Instrument as _;

use crate::DiscoveryConfig;
use crate::egress::{EgressPolicy, PolicyResolver, ResolveDenied};
use crate::error::DiscoveryError;

/// A fetched document.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) freshness: Freshness,
}

/// The HTTP side of discovery: a reqwest client that follows no redirects, uses no proxy,
/// resolves through the egress policy, and is read with size and time limits.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Client,
    policy: Arc<EgressPolicy>,
    max_body: usize,
    timeout: Duration,
}

impl Fetcher {
    pub(crate) fn new(
        policy: EgressPolicy,
        config: &DiscoveryConfig,
    ) -> Result<Self, DiscoveryError> {
        let policy = Arc::new(policy);
        let client = Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .https_only(false)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver::new(Arc::clone(&policy))))
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("aauth-discovery/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| DiscoveryError::Network)?;
        Ok(Self {
            client,
            policy,
            max_body: config.max_body_bytes,
            timeout: config.timeout,
        })
    }

    /// GETs `url` after the egress check, counting the request in `counter` once it is
    /// admitted. Only a `200` with a JSON (or absent) content type and a body within the
    /// size limit is returned.
    pub(crate) async fn get(
        &self,
        url: &Url,
        counter: &AtomicU64,
    ) -> Result<Fetched, DiscoveryError> {
        self.admit(url)?;
        counter.fetch_add(1, Ordering::Relaxed);
        // Only real fetches get a span: cache hits do no I/O and stay out of traces.
        let span = tracing::info_span!(
            "aauth.discovery.fetch",
            otel.kind = "client",
            url.full = %url,
            error = tracing::field::Empty,
        );
        let result = tokio::time::timeout(self.timeout, self.get_admitted(url))
            .instrument(span.clone())
            .await
            .unwrap_or(Err(DiscoveryError::Timeout));
        if let Err(e) = &result {
            span.record("error", tracing::field::display(e));
        }
        result
    }

    /// The egress check on the URL alone (no resolution).
    pub(crate) fn admit(&self, url: &Url) -> Result<(), DiscoveryError> {
        self.policy.check(url)
    }

    async fn get_admitted(&self, url: &Url) -> Result<Fetched, DiscoveryError> {
        let mut resp = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(DiscoveryError::Redirect);
        }
        if status != StatusCode::OK {
            return Err(DiscoveryError::Http(status.as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(DiscoveryError::TooLarge);
        }
        if !is_json(resp.headers()) {
            return Err(DiscoveryError::InvalidDocument);
        }
        // reqwest's `HeaderMap` is the `http` 1.x one aauth-http reads.
        let freshness = Freshness::from_headers(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
            if body.len().saturating_add(chunk.len()) > self.max_body {
                return Err(DiscoveryError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, freshness })
    }
}

/// The TLS client configuration: rustls with the *ring* provider (no aws-lc C build) and the
/// platform's certificate verifier. Loading the platform roots is slow, so it is built once
/// per process and shared by every [`Fetcher`].
fn tls_config() -> Result<rustls::ClientConfig, DiscoveryError> {
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
    .ok_or(DiscoveryError::Network)
}

/// Accepts an absent content type, `application/json` and any `+json` type
/// (`application/jwk-set+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn map_reqwest(e: reqwest::Error) -> DiscoveryError {
    if e.is_timeout() {
        return DiscoveryError::Timeout;
    }
    if e.is_redirect() {
        return DiscoveryError::Redirect;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        // An io::Error's `source()` skips the error it wraps, so look inside it too.
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if err.is::<ResolveDenied>() || wrapped.is_some_and(|i| i.is::<ResolveDenied>()) {
            return DiscoveryError::EgressDenied;
        }
        source = err.source();
    }
    DiscoveryError::Network
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn content_types() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(is_json(&HeaderMap::new()));
        assert!(is_json(&h("application/json; charset=utf-8")));
        assert!(is_json(&h("application/jwk-set+json")));
        assert!(!is_json(&h("text/html")));
        assert!(!is_json(&h("text/plain+json")));
    }
}
