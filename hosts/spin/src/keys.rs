//! Key discovery with Spin's outbound HTTP, an in-instance cache and Spin's key-value
//! store.
//!
//! A [`KeyRequest`] names either a JWKS URL or a party's metadata document whose
//! `jwks_uri` leads to the JWKS. Documents are cached per URL for as long as their server's
//! `Cache-Control` allows, within the configured TTL ([`lifetime`]), in two tiers: a
//! `static` map of validated results (Spin, and a plain `wasi:http` host, may reuse an
//! instance for several requests, in which case it saves the round trips; with one
//! instance per request it starts empty), then, in the `spin-kv` build, the key-value store
//! shared by all instances ([`crate::kv`]), whose entries are validated again when read.
//! Both tiers keep the expiry computed when the document was fetched.
//! The egress policy is checked before the key-value store is consulted, as before a
//! fetch (the in-instance map only holds what this instance's policy let through).
//! Failures are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use aauth_core::metadata::well_known_url;
use aauth_core::verify::{KeyRequest, KeySource, ResolvedKey};
use aauth_core::{Jwks, UnixTime};
use aauth_http::Freshness;
use http_body_util::{BodyExt, Limited};
use spin_sdk::http::{EmptyBody, send};

use crate::config::{Config, MIN_CACHE_LIFETIME, split_origin};
use crate::egress;
use crate::kv::{Kv, MAX_DOCUMENT};

/// Most documents kept; the cache is cleared when it would grow beyond.
const MAX_ENTRIES: usize = 256;

/// Why a key could not be resolved (never shown to the client, which sees
/// `invalid_signature`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The egress policy refused the URL.
    Egress(egress::Denied),
    /// The fetch failed or answered other than `200` JSON within the size limit.
    Fetch,
    /// The server did not deliver the document within `AAUTH_FETCH_TIMEOUT`.
    Timeout,
    /// The document is not valid metadata / JWKS, names another party, or points its
    /// `jwks_uri` at another origin.
    Document,
    /// The JWKS has no usable key with the requested `kid`.
    NoKey,
}

#[derive(Clone)]
enum Doc {
    JwksUri(String),
    Jwks(Arc<Jwks>),
}

type Cache = Mutex<HashMap<String, (u64, Doc)>>;

fn cache() -> MutexGuard<'static, HashMap<String, (u64, Doc)>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE
        .get_or_init(Cache::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn cached(url: &str, now: UnixTime) -> Option<Doc> {
    let mut c = cache();
    match c.get(url) {
        Some((exp, doc)) if *exp > now.as_secs() => Some(doc.clone()),
        Some(_) => {
            c.remove(url);
            None
        }
        None => None,
    }
}

fn store(url: &str, doc: Doc, expiry: u64) {
    let mut c = cache();
    if c.len() >= MAX_ENTRIES {
        c.clear();
    }
    c.insert(url.to_owned(), (expiry, doc));
}

/// How many seconds a document fetched with `freshness` is cached when `AAUTH_CACHE_TTL` is
/// `cache_ttl`: its `max-age` (RFC 9111 §5.2.2.1), so that a key rotation announced with a
/// short one is picked up as soon as the native discovery picks it up; at least
/// [`MIN_CACHE_LIFETIME`] (also for `no-store`/`no-cache`, §5.2.2.4-5); at most `cache_ttl`,
/// the operator's ceiling; the whole `cache_ttl` without a `Cache-Control`; and 0 (not
/// cached) when `cache_ttl` is 0.
///
/// ```
/// use aauth_http::Freshness;
/// use aauth_spin::keys::lifetime;
///
/// assert_eq!(lifetime(Freshness::MaxAge(90), 300), 90);
/// assert_eq!(lifetime(Freshness::MaxAge(3_600), 300), 300);
/// assert_eq!(lifetime(Freshness::NoStore, 300), 60);
/// assert_eq!(lifetime(Freshness::Absent, 300), 300);
/// ```
pub fn lifetime(freshness: Freshness, cache_ttl: u64) -> u64 {
    freshness.lifetime(cache_ttl, MIN_CACHE_LIFETIME.min(cache_ttl), cache_ttl)
}

/// Resolves `req`, fetching and caching metadata and JWKS as needed.
///
/// # Errors
/// [`KeyError`].
pub async fn resolve(
    req: &KeyRequest<'_>,
    cfg: &Config,
    now: UnixTime,
) -> Result<ResolvedKey, KeyError> {
    let mut kv = Kv::new(cfg);
    let jwks_url = match req.source {
        KeySource::Jwks(url) => url.to_owned(),
        KeySource::Metadata { id, well_known } => {
            if !is_safe_segment(well_known) || split_origin(id).is_none() {
                return Err(KeyError::Document);
            }
            let meta_url = well_known_url(id, well_known);
            match cached(&meta_url, now) {
                Some(Doc::JwksUri(u)) => u,
                _ => {
                    let (uri, exp) = document(&meta_url, cfg, now, &mut kv, |body| {
                        jwks_uri(id, well_known, &meta_url, body)
                    })
                    .await?;
                    store(&meta_url, Doc::JwksUri(uri.clone()), exp);
                    uri
                }
            }
        }
        _ => return Err(KeyError::Document),
    };
    let jwks = match cached(&jwks_url, now) {
        Some(Doc::Jwks(j)) => j,
        _ => {
            let (jwks, exp) = document(&jwks_url, cfg, now, &mut kv, |body| {
                Jwks::from_json(body).map_err(|_| KeyError::Document)
            })
            .await?;
            let jwks = Arc::new(jwks);
            store(&jwks_url, Doc::Jwks(Arc::clone(&jwks)), exp);
            jwks
        }
    };
    ResolvedKey::select(&jwks, req.kid).map_err(|_| KeyError::NoKey)
}

/// Checks a metadata document (identifying members equal `id`; `jwks_uri` on the same
/// origin) and returns its `jwks_uri`.
fn jwks_uri(id: &str, well_known: &str, meta_url: &str, body: &[u8]) -> Result<String, KeyError> {
    let doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|_| KeyError::Document)?;
    let members: &[&str] = match well_known {
        "aauth-agent" => &["agent", "issuer"],
        "aauth-resource" => &["resource", "issuer"],
        _ => &["issuer"],
    };
    let mut identified = false;
    for m in members {
        match doc.get(*m) {
            None => {}
            Some(serde_json::Value::String(v))
                if v.trim_end_matches('/') == id.trim_end_matches('/') =>
            {
                identified = true;
            }
            Some(_) => return Err(KeyError::Document),
        }
    }
    let Some(serde_json::Value::String(uri)) = doc.get("jwks_uri") else {
        return Err(KeyError::Document);
    };
    if !identified || split_origin(uri).is_none() || split_origin(uri) != split_origin(meta_url) {
        return Err(KeyError::Document);
    }
    Ok(uri.clone())
}

/// The document at `url`, turned into a `T` by `check` (the validation every source must
/// pass), and when it expires: from the key-value store when it holds a fresh entry that
/// passes `check`, else fetched (one egress-checked GET, bounded in size and in time:
/// headers and body together within `cfg.fetch_timeout`) and, once it passed, stored until
/// its [`lifetime`] ends.
async fn document<T>(
    url: &str,
    cfg: &Config,
    now: UnixTime,
    kv: &mut Kv<'_>,
    check: impl Fn(&[u8]) -> Result<T, KeyError>,
) -> Result<(T, u64), KeyError> {
    let uri = egress::check(url, &cfg.egress_allow).map_err(KeyError::Egress)?;
    if let Some((exp, body)) = kv.get(url, now).await
        && let Ok(v) = check(&body)
    {
        return Ok((v, exp));
    }
    let (body, freshness) = crate::within(cfg.fetch_timeout, fetch(uri))
        .await
        .unwrap_or(Err(KeyError::Timeout))?;
    let v = check(&body)?;
    let exp = now
        .as_secs()
        .saturating_add(lifetime(freshness, cfg.cache_ttl));
    kv.put(url, exp, &body).await;
    Ok((v, exp))
}

/// The body of `uri` and what its `Cache-Control` says.
async fn fetch(uri: http::Uri) -> Result<(Vec<u8>, Freshness), KeyError> {
    let req = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(EmptyBody::new())
        .map_err(|_| KeyError::Fetch)?;
    let resp = send(req).await.map_err(|_| KeyError::Fetch)?;
    if resp.status() != http::StatusCode::OK {
        return Err(KeyError::Fetch);
    }
    if let Some(ct) = resp.headers().get(http::header::CONTENT_TYPE) {
        let media = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !(media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json")))
        {
            return Err(KeyError::Document);
        }
    }
    let freshness = Freshness::from_headers(resp.headers());
    let body = Limited::new(resp.into_body(), MAX_DOCUMENT)
        .collect()
        .await
        .map_err(|_| KeyError::Fetch)?;
    Ok((body.to_bytes().to_vec(), freshness))
}

fn is_safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_follows_max_age_within_the_ttl() {
        // Below the TTL: the server's max-age, so a short one announces a rotation.
        assert_eq!(lifetime(Freshness::MaxAge(90), 300), 90);
        assert_eq!(lifetime(Freshness::MaxAge(299), 300), 299);
        // Below the floor: a minute.
        assert_eq!(lifetime(Freshness::MaxAge(0), 300), 60);
        assert_eq!(lifetime(Freshness::MaxAge(5), 300), 60);
        // Above the TTL: the operator's ceiling wins.
        assert_eq!(lifetime(Freshness::MaxAge(3_600), 300), 300);
        assert_eq!(lifetime(Freshness::MaxAge(u64::MAX), 86_400), 86_400);
    }

    #[test]
    fn lifetime_of_no_store_is_the_floor() {
        assert_eq!(lifetime(Freshness::NoStore, 300), 60);
        assert_eq!(lifetime(Freshness::NoStore, 86_400), 60);
        // A TTL below the floor lowers the floor with it.
        assert_eq!(lifetime(Freshness::NoStore, 30), 30);
        assert_eq!(lifetime(Freshness::MaxAge(10), 30), 30);
    }

    #[test]
    fn lifetime_without_cache_control_is_the_ttl() {
        assert_eq!(lifetime(Freshness::Absent, 300), 300);
        assert_eq!(lifetime(Freshness::Absent, 30), 30);
        assert_eq!(lifetime(Freshness::Absent, 86_400), 86_400);
    }

    #[test]
    fn ttl_zero_caches_nothing() {
        for f in [
            Freshness::Absent,
            Freshness::MaxAge(600),
            Freshness::NoStore,
        ] {
            assert_eq!(lifetime(f, 0), 0, "{f:?}");
        }
    }
}
