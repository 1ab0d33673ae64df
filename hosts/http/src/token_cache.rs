//! A bounded, evicting [`TokenCache`] for resource hosts.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use aauth_core::UnixTime;
pub use aauth_core::verify::DEFAULT_TOKEN_CACHE_CAPACITY;
use aauth_core::verify::{TokenCache, TokenDigest, TokenStore, ValidatedToken};

/// A [`TokenCache`] holding at most `capacity` verified tokens, keyed by the SHA-256 of the
/// token (the token itself is not stored): the core's [`TokenStore`] (expiry, FIFO
/// eviction; the same store the npm package uses) behind a lock, with
/// hit and miss counters. A hit takes the lock for one map lookup.
///
/// - An entry is served until the token's `exp` (the core re-checks the claims on every
///   hit anyway); an expired entry is dropped when it is looked up.
/// - When full, the oldest entry is evicted first (first in, first out).
/// - Capacity 0 disables the cache: nothing is stored, every lookup misses.
///
/// ```
/// use aauth_core::verify::TokenCache as _;
/// use aauth_core::verify::TokenDigest;
/// use aauth_core::UnixTime;
/// use aauth_http::BoundedTokenCache;
///
/// let cache = BoundedTokenCache::new(2);
/// assert!(cache.get(&TokenDigest::of("a.b.c"), UnixTime::from_secs(1)).is_none());
/// assert_eq!(cache.stats().misses, 1);
/// ```
#[derive(Debug)]
pub struct BoundedTokenCache {
    capacity: usize,
    state: Mutex<TokenStore>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters of a [`BoundedTokenCache`] since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCacheStats {
    /// Lookups answered from the cache (no key lookup, no token verification).
    pub hits: u64,
    /// Lookups that found nothing usable.
    pub misses: u64,
    /// Entries dropped to stay within the capacity, or because they expired.
    pub evictions: u64,
    /// Entries held now.
    pub len: usize,
}

impl BoundedTokenCache {
    /// A cache for at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(TokenStore::new(capacity)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The counters.
    pub fn stats(&self) -> TokenCacheStats {
        let state = self.lock();
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: state.evictions(),
            len: state.len(),
        }
    }

    /// The state, even if a thread panicked while holding the lock: every mutation of
    /// [`TokenStore`] keeps it consistent before it can panic (allocation aside), so the
    /// data is still a valid cache.
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenStore> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for BoundedTokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN_CACHE_CAPACITY)
    }
}

impl TokenCache for BoundedTokenCache {
    fn get(&self, digest: &TokenDigest, now: UnixTime) -> Option<Arc<ValidatedToken>> {
        let hit = if self.capacity == 0 {
            None
        } else {
            self.lock().get(digest, now)
        };
        let counter = if hit.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    fn insert(&self, token: Arc<ValidatedToken>, now: UnixTime) {
        if self.capacity != 0 {
            self.lock().insert(token, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use aauth_core::httpsig::{SignOptions, SignatureError, VerifyPolicy, sign_request};
    use aauth_core::token::{AuthClaims, TokenErrorKind};
    use aauth_core::verify::{
        Identity, KeyRequest, ResolvedKey, TokenPolicy, VerifyError, begin_headers,
        verify_request_cached,
    };
    use aauth_core::{KeyScheme, RequestParts, Signer, SigningKey};

    use super::*;

    const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);
    const RESOURCE: &str = "https://resource.example";
    const AS: &str = "https://auth.example";
    const ISSUERS: &[&str] = &[AS];

    fn agent() -> SigningKey {
        SigningKey::from_seed(&[1; 32]).with_kid("key-1")
    }

    fn auth() -> SigningKey {
        SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1")
    }

    /// An auth token for `aud` valid for `secs`, with a distinct scope per `n`.
    fn token(aud: &str, secs: u64, n: u32) -> String {
        AuthClaims::new(AS, aud, agent().public_jwk(), NOW.saturating_add(secs))
            .with_agent("https://agent.example")
            .with_scope(format!("data.read n{n}"))
            .sign(&auth())
            .unwrap()
    }

    /// The headers of a GET signed at `at` by `key` carrying `token`.
    fn signed(token: &str, key: &SigningKey, at: UnixTime) -> Vec<(String, String)> {
        let sk = KeyScheme::Jwt { jwt: token.into() }
            .to_header("sig1")
            .unwrap();
        let req = RequestParts::new("GET", "resource.example", "/data", &[]);
        let sig = sign_request(&req, &sk, key, &SignOptions::new(at)).unwrap();
        sig.iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// `headers` as [`RequestParts`] takes them.
    fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &[u8])> {
        headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect()
    }

    /// Verifies `headers` at `now` for `aud`, counting issuer key lookups in `lookups`.
    fn verify(
        headers: &[(String, String)],
        cache: &BoundedTokenCache,
        aud: &str,
        now: UnixTime,
        lookups: &Cell<u32>,
    ) -> Result<(), VerifyError> {
        let h = borrowed(headers);
        let req = RequestParts::new("GET", "resource.example", "/data", &h);
        let resolver = |_: &KeyRequest<'_>| {
            lookups.set(lookups.get() + 1);
            Some(Arc::new(
                ResolvedKey::from_jwk(auth().public_jwk()).unwrap(),
            ))
        };
        let tokens = TokenPolicy::new(aud).with_trusted_issuers(ISSUERS);
        verify_request_cached(
            &req,
            &resolver,
            cache,
            &VerifyPolicy::default(),
            &tokens,
            now,
        )
        .map(|_| ())
    }

    /// A hit is found before the token is decoded, so the policy's token rules must hold
    /// on the hit itself: a policy that takes no auth tokens, or no longer trusts the
    /// issuer, refuses the remembered token without a key lookup.
    #[test]
    fn a_hit_still_obeys_the_token_policy_it_is_checked_under() {
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 600, 0);
        let headers = signed(&t, &agent(), NOW);
        verify(&headers, &cache, RESOURCE, NOW, &lookups).unwrap();
        assert_eq!(cache.stats().len, 1);

        let h = borrowed(&headers);
        let req = RequestParts::new("GET", "resource.example", "/data", &h);
        let resolver = |_: &KeyRequest<'_>| -> Option<Arc<ResolvedKey>> {
            lookups.set(lookups.get() + 1);
            None
        };
        let check = |tokens: &TokenPolicy<'_>| {
            verify_request_cached(
                &req,
                &resolver,
                &cache,
                &VerifyPolicy::default(),
                tokens,
                NOW,
            )
            .map(|_| ())
        };
        let mut no_auth = TokenPolicy::new(RESOURCE).with_trusted_issuers(ISSUERS);
        no_auth.accept_auth_tokens = false;
        assert_eq!(check(&no_auth), Err(VerifyError::TokenTypeNotAccepted));
        let other_issuer =
            TokenPolicy::new(RESOURCE).with_trusted_issuers(&["https://other.example"]);
        assert!(matches!(check(&other_issuer), Err(VerifyError::Token(_))));
        // Under the policy it was remembered with, the hit still verifies.
        let same = TokenPolicy::new(RESOURCE).with_trusted_issuers(ISSUERS);
        assert_eq!(check(&same), Ok(()));
        assert_eq!(lookups.get(), 1, "hits need no key");
        assert_eq!(cache.stats().hits, 3);
    }

    #[test]
    fn a_repeated_token_skips_the_key_lookup_but_not_the_request_signature() {
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 600, 0);
        for i in 0..5 {
            let at = NOW.saturating_add(i);
            verify(&signed(&t, &agent(), at), &cache, RESOURCE, at, &lookups).unwrap();
        }
        assert_eq!(lookups.get(), 1);
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.len), (4, 1, 1));

        // Same (cached) token, request signed by a key other than its cnf.jwk.
        let other = SigningKey::from_seed(&[7; 32]);
        let e = verify(&signed(&t, &other, NOW), &cache, RESOURCE, NOW, &lookups).unwrap_err();
        assert_eq!(e, VerifyError::Signature(SignatureError::BadSignature));
        // Same token, the signature of another request.
        let mut replay = signed(&t, &agent(), NOW);
        let later = signed(&t, &agent(), NOW.saturating_add(1));
        let is_sig = |n: &str| n.eq_ignore_ascii_case("signature");
        assert_eq!(replay.iter().filter(|(n, _)| is_sig(n)).count(), 1);
        replay.retain(|(n, _)| !is_sig(n));
        replay.extend(later.into_iter().filter(|(n, _)| is_sig(n)));
        assert!(verify(&replay, &cache, RESOURCE, NOW, &lookups).is_err());
        assert_eq!(lookups.get(), 1);
        assert_eq!(cache.stats().hits, 6);
    }

    #[test]
    fn an_expired_token_is_not_served_from_the_cache() {
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 60, 0);
        verify(&signed(&t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
        let late = NOW.saturating_add(60);
        let e = verify(
            &signed(&t, &agent(), late),
            &cache,
            RESOURCE,
            late,
            &lookups,
        )
        .unwrap_err();
        assert!(
            matches!(e, VerifyError::Token(t) if matches!(t.kind(), TokenErrorKind::Expired { .. }))
        );
        let s = cache.stats();
        assert_eq!((s.hits, s.len, s.evictions), (0, 0, 1));
    }

    #[test]
    fn a_token_for_another_audience_is_not_served() {
        // One cache shared by two resources (a host serving both): the entry verified for
        // one is refused for the other exactly as a fresh verification would refuse it.
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 600, 0);
        verify(&signed(&t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
        let e = verify(
            &signed(&t, &agent(), NOW),
            &cache,
            "https://other.example",
            NOW,
            &lookups,
        )
        .unwrap_err();
        assert!(matches!(e, VerifyError::Token(t) if t.kind() == TokenErrorKind::AudienceMismatch));
    }

    #[test]
    fn the_bound_holds_and_the_oldest_entry_goes_first() {
        let cache = BoundedTokenCache::new(3);
        let lookups = Cell::new(0);
        let tokens: Vec<String> = (0..5).map(|n| token(RESOURCE, 600, n)).collect();
        for t in &tokens {
            verify(&signed(t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
            assert!(cache.stats().len <= 3);
        }
        let s = cache.stats();
        assert_eq!((s.len, s.evictions, lookups.get()), (3, 2, 5));
        // The newest are served, the two oldest are verified again.
        verify(
            &signed(&tokens[4], &agent(), NOW),
            &cache,
            RESOURCE,
            NOW,
            &lookups,
        )
        .unwrap();
        assert_eq!(lookups.get(), 5);
        verify(
            &signed(&tokens[0], &agent(), NOW),
            &cache,
            RESOURCE,
            NOW,
            &lookups,
        )
        .unwrap();
        assert_eq!(lookups.get(), 6);
    }

    /// An entry dropped on expiry leaves the insertion order of the others intact:
    /// eviction still removes the oldest live entry, and insert-then-expire cycles leave
    /// nothing behind.
    #[test]
    fn expiry_removals_keep_fifo_order() {
        let cache = BoundedTokenCache::new(4);
        let lookups = Cell::new(0);
        let fill = |t: &str| {
            verify(&signed(t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
        };
        // a (60 s), b, c, d (600 s): a expires first and is dropped on lookup.
        let short = token(RESOURCE, 60, 0);
        let long: Vec<String> = (1..6).map(|n| token(RESOURCE, 600, n)).collect();
        fill(&short);
        for t in &long[..3] {
            fill(t);
        }
        let late = NOW.saturating_add(60);
        assert!(cache.get(&TokenDigest::of(&short), late).is_none());
        assert_eq!(cache.stats().len, 3);
        // e fits; f evicts the oldest live entry (b).
        fill(&long[3]);
        fill(&long[4]);
        let s = cache.stats();
        assert_eq!((s.len, s.evictions), (4, 2));
        assert!(cache.get(&TokenDigest::of(&long[0]), late).is_none());
        for t in &long[1..] {
            assert!(cache.get(&TokenDigest::of(t), late).is_some());
        }

        // Many insert-then-expire cycles below the bound: nothing piles up.
        let cache = BoundedTokenCache::new(4);
        for n in 0..50 {
            let t = token(RESOURCE, 60, 100 + n);
            verify(&signed(&t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
            assert!(cache.get(&TokenDigest::of(&t), late).is_none());
            assert!(cache.lock().is_empty());
        }
        assert_eq!(cache.stats().evictions, 50);
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let cache = BoundedTokenCache::new(0);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 600, 0);
        for _ in 0..3 {
            verify(&signed(&t, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
        }
        assert_eq!((lookups.get(), cache.stats().len), (3, 0));
    }

    /// A hit hands the request the entry's verified claims by reference count, not a copy
    /// per request, and the entry's thumbprint.
    #[test]
    fn a_hit_shares_the_remembered_claims() {
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let t = token(RESOURCE, 600, 0);
        let headers = signed(&t, &agent(), NOW);
        verify(&headers, &cache, RESOURCE, NOW, &lookups).unwrap();
        let entry = cache.get(&TokenDigest::of(&t), NOW).unwrap();
        let h = borrowed(&headers);
        let req = RequestParts::new("GET", "resource.example", "/data", &h);
        let policy = VerifyPolicy::default();
        let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(ISSUERS);
        let checked = begin_headers(&req, &policy, NOW).unwrap();
        let v = checked
            .finish_cached(&req, &entry, &policy, &tokens, NOW)
            .unwrap();
        let (Identity::Authorized { token: served }, Identity::Authorized { token: kept }) =
            (v.identity(), entry.identity())
        else {
            panic!("expected auth tokens: {v:?}");
        };
        assert!(Arc::ptr_eq(served, kept));
        assert_eq!(
            v.signer_thumbprint(),
            agent().public_jwk().thumbprint().unwrap()
        );
    }

    #[test]
    fn an_entry_for_another_token_is_refused() {
        let cache = BoundedTokenCache::new(8);
        let lookups = Cell::new(0);
        let a = token(RESOURCE, 600, 0);
        let b = token(RESOURCE, 600, 1);
        verify(&signed(&a, &agent(), NOW), &cache, RESOURCE, NOW, &lookups).unwrap();
        let entry = cache.get(&TokenDigest::of(&a), NOW).unwrap();
        let headers = signed(&b, &agent(), NOW);
        let h = borrowed(&headers);
        let req = RequestParts::new("GET", "resource.example", "/data", &h);
        let policy = VerifyPolicy::default();
        let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(ISSUERS);
        let checked = begin_headers(&req, &policy, NOW).unwrap();
        let e = checked
            .finish_cached(&req, &entry, &policy, &tokens, NOW)
            .unwrap_err();
        assert_eq!(e, VerifyError::CachedTokenMismatch);
    }

    /// The sequence an async host runs (aauth-tower): headers checked, the cache asked
    /// before the token is decoded, the token decoded and its issuer checked only on a miss.
    #[test]
    fn an_async_host_decodes_the_token_only_on_a_miss() {
        let cache = BoundedTokenCache::new(8);
        let policy = VerifyPolicy::default();
        let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(ISSUERS);
        let t = token(RESOURCE, 600, 0);
        let key = ResolvedKey::from_jwk(auth().public_jwk()).unwrap();
        for i in 0..3 {
            let at = NOW.saturating_add(i);
            let headers = signed(&t, &agent(), at);
            let h = borrowed(&headers);
            let req = RequestParts::new("GET", "resource.example", "/data", &h);
            let mut checked = begin_headers(&req, &policy, at).unwrap();
            let digest = checked.token_digest().unwrap();
            assert_eq!(digest, TokenDigest::of(&t));
            let v = match cache.get(&digest, at) {
                Some(hit) => checked
                    .finish_cached(&req, &hit, &policy, &tokens, at)
                    .unwrap(),
                None => {
                    assert_eq!(i, 0, "only the first request misses");
                    let pending = checked.decode_token(&tokens).unwrap();
                    assert!(pending.key_request().is_some());
                    let (v, remembered) = pending
                        .finish_remembering(&req, Some(&key), &policy, &tokens, at)
                        .unwrap();
                    cache.insert(Arc::new(remembered.unwrap()), at);
                    v
                }
            };
            assert!(matches!(v.identity(), Identity::Authorized { .. }));
        }
        assert_eq!(cache.stats().hits, 2);

        // On a miss the decoded token meets begin's checks: an untrusted issuer is refused
        // before any key is asked for.
        let headers = signed(&token(RESOURCE, 600, 1), &agent(), NOW);
        let h = borrowed(&headers);
        let req = RequestParts::new("GET", "resource.example", "/data", &h);
        let checked = begin_headers(&req, &policy, NOW).unwrap();
        let other = TokenPolicy::new(RESOURCE).with_trusted_issuers(&["https://other.example"]);
        assert_eq!(
            checked.decode_token(&other).unwrap_err(),
            VerifyError::UntrustedIssuer
        );
    }
}
