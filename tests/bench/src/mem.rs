//! `mem`: heap bytes per remembered token and per cached key set, as counted by the
//! binary's allocator (live bytes after minus before, divided by the number of entries).

use std::sync::Arc;

use aauth_core::httpsig::VerifyPolicy;
use aauth_core::verify::{KeyRequest, ResolvedKey, TokenPolicy, verify_request_cached};
use aauth_core::{Jwks, RequestParts, Signer as _, SigningKey, UnixTime};
use aauth_discovery::{Discovery, EgressPolicy, JwksLocation};
use aauth_http::BoundedTokenCache;
use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use crate::Error;
use crate::alloc_count::live;
use crate::fixture::{auth_key, auth_token, sign_get};

const TOKENS: usize = 2000;
const KEY_SETS: usize = 200;

pub(crate) fn run() -> Result<(), Error> {
    let per_token = token_entry_bytes()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let per_key_set = rt.block_on(key_set_bytes())?;
    println!(
        "{}",
        json!({
            "token_cache_bytes_per_token": per_token,
            "tokens_measured": TOKENS,
            "discovery_bytes_per_key_set": per_key_set,
            "key_sets_measured": KEY_SETS,
            "key_set": "one Ed25519 JWK, fetched by JWKS URL",
        })
    );
    Ok(())
}

/// Fills a [`BoundedTokenCache`] with `TOKENS` distinct verified auth tokens.
fn token_entry_bytes() -> Result<f64, Error> {
    const AS: &str = "https://auth.example";
    const RESOURCE: &str = "https://resource.example";
    let now = UnixTime::now();
    let signed: Vec<_> = (0..TOKENS)
        .map(|n| {
            sign_get(
                "resource.example",
                "/data",
                &auth_token(AS, RESOURCE, n, now),
                now,
            )
        })
        .collect::<Result<_, _>>()?;
    let issuer = Arc::new(ResolvedKey::from_jwk(auth_key().public_jwk())?);
    let resolver = |_: &KeyRequest<'_>| Some(Arc::clone(&issuer));
    let policy = VerifyPolicy::default();
    let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(&[AS]);
    let cache = BoundedTokenCache::new(TOKENS);
    let before = live();
    for s in &signed {
        let headers: Vec<(&str, &[u8])> = s
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let req =
            RequestParts::new("GET", "resource.example", "/data", &headers).with_scheme("http");
        verify_request_cached(&req, &resolver, &cache, &policy, &tokens, now)?;
    }
    let after = live();
    if cache.stats().len != TOKENS {
        return Err("not every token was remembered".into());
    }
    Ok((after - before) as f64 / TOKENS as f64)
}

/// Resolves `KEY_SETS` distinct JWKS URLs through one [`Discovery`].
async fn key_set_bytes() -> Result<f64, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", l.local_addr()?);
    let app = Router::new().route(
        "/jwks/{i}",
        get(|Path(i): Path<u32>| async move {
            let key = SigningKey::from_seed(&[(i % 251) as u8; 32]).with_kid(format!("k{i}"));
            let body = serde_json::to_vec(&Jwks::new(vec![key.public_jwk()])).unwrap_or_default();
            ([("content-type", "application/json")], body)
        }),
    );
    tokio::spawn(async move { axum::serve(l, app).await });
    let discovery = Discovery::new(EgressPolicy::dev())?;
    let urls: Vec<String> = (0..=KEY_SETS).map(|i| format!("{base}/jwks/{i}")).collect();
    let kids: Vec<String> = (0..=KEY_SETS).map(|i| format!("k{i}")).collect();
    let locations: Vec<JwksLocation> = urls.iter().map(JwksLocation::url).collect();
    // The first lookup sets up the HTTP client's connection: not part of an entry.
    discovery.key(&locations[0], Some(&kids[0])).await?;
    let before = live();
    for i in 1..=KEY_SETS {
        discovery.key(&locations[i], Some(&kids[i])).await?;
    }
    let after = live();
    if discovery.len() < KEY_SETS {
        return Err("not every key set was cached".into());
    }
    Ok((after - before) as f64 / KEY_SETS as f64)
}
