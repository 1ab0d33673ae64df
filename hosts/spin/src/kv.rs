//! The key-value tier of the key cache: fetched metadata documents and JWKS kept in Spin's
//! key-value store (build feature `spin-kv`), so that every instance of the component, not
//! only the one that fetched, skips the round trips until the entry expires.
//!
//! An entry holds the raw document exactly as fetched, and only after it passed the same
//! validation as any fresh fetch; the reader validates it again before use
//! ([`crate::keys`]), so an entry can never yield more than a fetch of its URL would. The
//! value is a small envelope ([`encode`] / [`decode`]):
//!
//! ```text
//! aauth-spin-kv 1\n<expiry, unix seconds>\n<URL>\n<document bytes>
//! ```
//!
//! The expiry is the fetch time plus the document's lifetime ([`crate::keys::lifetime`]:
//! its server's `Cache-Control: max-age` within `AAUTH_CACHE_TTL`), so every instance
//! drops a document when its server said to, not only the one that fetched it.
//! The store key is derived from the exact URL (`aauth-spin:` + its SHA-256), and the
//! envelope repeats the URL, which must match exactly. An entry is used only while
//! `now < expiry <= now + AAUTH_CACHE_TTL` (a lowered TTL shortens entries already
//! stored); expired, foreign, corrupt or oversized entries are ignored and overwritten by
//! the next successful fetch. Store failures (no store granted, a backend error or a store
//! call slower than `AAUTH_FETCH_TIMEOUT`) only cost the cache: the request goes on with a
//! fetch. Without the `spin-kv` feature [`Kv`] holds nothing and imports nothing.

use aauth_core::UnixTime;
use aauth_core::content_digest::sha256;

use crate::config::Config;

/// Largest document stored (the fetch limit of [`crate::keys`]).
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// Longest URL whose document is stored.
pub const MAX_URL: usize = 2048;
/// Largest envelope written or read: header, URL and document.
pub const MAX_VALUE: usize = MAX_DOCUMENT + MAX_URL + 64;

const MAGIC: &[u8] = b"aauth-spin-kv 1\n";

/// The store key of `url`'s document.
///
/// ```
/// let k = aauth_spin::kv::key("https://agent.example/jwks.json");
/// assert!(k.starts_with("aauth-spin:sha-256=:") && k.len() < 80);
/// ```
pub fn key(url: &str) -> String {
    format!("aauth-spin:{}", sha256(url.as_bytes()))
}

/// The envelope of `body` fetched from `url`, valid until `expiry` (unix seconds); `None`
/// when the URL or the document is too large (or the URL has a line break) to be stored.
pub fn encode(url: &str, expiry: u64, body: &[u8]) -> Option<Vec<u8>> {
    if url.len() > MAX_URL || url.contains(['\n', '\r']) || body.len() > MAX_DOCUMENT {
        return None;
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 24 + url.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(expiry.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(url.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    Some(out)
}

/// The document and expiry in `value` when it is a well-formed envelope for exactly `url`
/// and fresh: `now < expiry <= now + ttl`.
pub fn decode<'v>(value: &'v [u8], url: &str, now: UnixTime, ttl: u64) -> Option<(u64, &'v [u8])> {
    if value.len() > MAX_VALUE {
        return None;
    }
    let rest = value.strip_prefix(MAGIC)?;
    let nl = rest.iter().position(|b| *b == b'\n')?;
    let (exp, rest) = (&rest[..nl], &rest[nl + 1..]);
    if exp.is_empty() || exp.len() > 20 || !exp.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let expiry: u64 = std::str::from_utf8(exp).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(url.as_bytes())?.strip_prefix(b"\n")?;
    let now = now.as_secs();
    if expiry <= now || expiry > now.saturating_add(ttl) || rest.len() > MAX_DOCUMENT {
        return None;
    }
    Some((expiry, rest))
}

/// The key-value tier for one request: opens the store on first use, and gives up on it
/// for the rest of the request when it cannot be opened.
pub struct Kv<'c> {
    cfg: &'c Config,
    #[cfg(feature = "spin-kv")]
    state: State,
}

#[cfg(feature = "spin-kv")]
enum State {
    Unopened,
    Open(spin_sdk::key_value::Store),
    Unavailable,
}

impl<'c> Kv<'c> {
    /// The tier configured by `cfg` (`AAUTH_KV_STORE`, `AAUTH_CACHE_TTL`); nothing is
    /// opened yet.
    pub fn new(cfg: &'c Config) -> Self {
        Self {
            cfg,
            #[cfg(feature = "spin-kv")]
            state: State::Unopened,
        }
    }

    /// The stored document of `url` and its expiry, when fresh ([`decode`]).
    pub async fn get(&mut self, url: &str, now: UnixTime) -> Option<(u64, Vec<u8>)> {
        if self.cfg.cache_ttl == 0 || url.len() > MAX_URL {
            return None;
        }
        let value = self.load(&key(url)).await?;
        decode(&value, url, now, self.cfg.cache_ttl).map(|(exp, body)| (exp, body.to_vec()))
    }

    /// Stores `body`, just fetched from `url` and validated, until `expiry`.
    pub async fn put(&mut self, url: &str, expiry: u64, body: &[u8]) {
        if self.cfg.cache_ttl == 0 {
            return;
        }
        if let Some(value) = encode(url, expiry, body) {
            self.save(&key(url), value).await;
        }
    }

    #[cfg(feature = "spin-kv")]
    async fn store(&mut self) -> Option<&spin_sdk::key_value::Store> {
        if matches!(self.state, State::Unopened) {
            let opened = crate::within(
                self.cfg.fetch_timeout,
                spin_sdk::key_value::Store::open(&self.cfg.kv_store),
            )
            .await;
            self.state = match opened {
                Some(Ok(store)) => State::Open(store),
                // No such store, not granted, or the host is not answering: in-instance
                // caching only, for this request.
                _ => State::Unavailable,
            };
        }
        match &self.state {
            State::Open(store) => Some(store),
            _ => None,
        }
    }

    #[cfg(feature = "spin-kv")]
    async fn load(&mut self, key: &str) -> Option<Vec<u8>> {
        let limit = self.cfg.fetch_timeout;
        let store = self.store().await?;
        crate::within(limit, store.get(key)).await?.ok()?
    }

    #[cfg(feature = "spin-kv")]
    async fn save(&mut self, key: &str, value: Vec<u8>) {
        let limit = self.cfg.fetch_timeout;
        if let Some(store) = self.store().await {
            // A failed write only means the next instance fetches again.
            let _ = crate::within(limit, store.set(key, value)).await;
        }
    }

    #[cfg(not(feature = "spin-kv"))]
    async fn load(&mut self, _key: &str) -> Option<Vec<u8>> {
        None
    }

    #[cfg(not(feature = "spin-kv"))]
    async fn save(&mut self, _key: &str, _value: Vec<u8>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://agent.example/jwks.json";

    #[test]
    fn round_trip_and_freshness() {
        let now = UnixTime::from_secs(1_000);
        let v = encode(URL, 1_300, b"{\"keys\":[]}").unwrap();
        assert_eq!(
            decode(&v, URL, now, 300),
            Some((1_300, &b"{\"keys\":[]}"[..]))
        );
        // Expired, exactly at expiry, and beyond what the current TTL allows.
        assert_eq!(decode(&v, URL, UnixTime::from_secs(1_300), 300), None);
        assert_eq!(decode(&v, URL, UnixTime::from_secs(2_000), 300), None);
        assert_eq!(decode(&v, URL, now, 299), None);
        // Another URL, even a prefix or an extension of this one.
        assert_eq!(decode(&v, "https://agent.example/jwks.jso", now, 300), None);
        assert_eq!(
            decode(&v, "https://agent.example/jwks.json2", now, 300),
            None
        );
    }

    #[test]
    fn corrupt_and_oversized_entries_are_ignored() {
        let now = UnixTime::from_secs(1_000);
        let good = encode(URL, 1_100, b"{}").unwrap();
        for bad in [
            &b""[..],
            b"garbage",
            &good[..good.len() - 3 - URL.len()],
            b"aauth-spin-kv 1\n\n",
            b"aauth-spin-kv 1\n-5\nhttps://agent.example/jwks.json\n{}",
            b"aauth-spin-kv 1\n99999999999999999999999\nhttps://agent.example/jwks.json\n{}",
            b"aauth-spin-kv 2\n1100\nhttps://agent.example/jwks.json\n{}",
        ] {
            assert_eq!(decode(bad, URL, now, 300), None, "{bad:?}");
        }
        let mut big = encode(URL, 1_100, &[b' '; MAX_DOCUMENT]).unwrap();
        assert!(decode(&big, URL, now, 300).is_some());
        big.push(b' ');
        assert_eq!(decode(&big, URL, now, 300), None);
        assert!(encode(URL, 1_100, &[b' '; MAX_DOCUMENT + 1]).is_none());
        assert!(encode("https://a.example/\nx", 1_100, b"{}").is_none());
        assert!(
            encode(
                &format!("https://a.example/{}", "a".repeat(MAX_URL)),
                1,
                b""
            )
            .is_none()
        );
    }

    #[test]
    fn keys_differ_per_url() {
        assert_ne!(key(URL), key("https://agent.example/jwks.json/"));
        assert_eq!(key(URL), key(URL));
    }
}
