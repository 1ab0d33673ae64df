//! The bounded store of verified tokens behind every host's [`TokenCache`](super::TokenCache).
//!
//! Plain state with `&mut self` methods, like [`ReplayCache`](crate::replay::ReplayCache):
//! `aauth-http` puts it behind a `Mutex` (`BoundedTokenCache`, for the native hosts) and the
//! npm package behind a `RefCell`. One implementation, so the bound and the eviction order
//! are the same everywhere.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use super::{TokenDigest, ValidatedToken};
use crate::time::UnixTime;

/// Default number of tokens a resource remembers.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 4096;

/// At most `capacity` verified tokens, keyed by the SHA-256 of the token (the token itself
/// is not stored).
///
/// - An entry is served until the token's `exp` (the core re-checks the claims on every
///   hit anyway); an expired entry is dropped when it is looked up.
/// - When full, the oldest entry is evicted first (first in, first out): tokens are issued
///   with similar lifetimes, so the oldest is the closest to expiry, and FIFO needs no
///   bookkeeping on the hit path.
/// - Every operation is O(log n): two ordered maps, by digest and by insertion, always hold
///   the same entries.
/// - Capacity 0 disables it: nothing is stored, every lookup misses.
///
/// ```
/// use aauth_core::UnixTime;
/// use aauth_core::verify::{TokenDigest, TokenStore};
///
/// let mut store = TokenStore::new(2);
/// assert!(store.get(&TokenDigest::of("a.b.c"), UnixTime::from_secs(1)).is_none());
/// assert_eq!((store.len(), store.evictions()), (0, 0));
/// ```
#[derive(Debug)]
pub struct TokenStore {
    capacity: usize,
    /// The insertion sequence number of each entry, by digest. (The same map type as
    /// [`ReplayCache`](crate::replay::ReplayCache)'s, so the npm package's wasm carries its
    /// code once.)
    by_digest: BTreeMap<[u8; 32], u64>,
    /// The entries by insertion sequence number: the first is the oldest.
    by_seq: BTreeMap<u64, Arc<ValidatedToken>>,
    /// The next sequence number.
    next: u64,
    /// Entries dropped so far, to stay within the capacity or because they expired.
    evictions: u64,
}

impl TokenStore {
    /// A store for at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            by_digest: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            next: 0,
            evictions: 0,
        }
    }

    /// The token remembered under `digest`, unless it expired at `now` (then it is dropped).
    pub fn get(&mut self, digest: &TokenDigest, now: UnixTime) -> Option<Arc<ValidatedToken>> {
        let seq = *self.by_digest.get(&digest.0)?;
        match self.by_seq.get(&seq) {
            Some(t) if now < t.expires() => Some(Arc::clone(t)),
            _ => {
                self.by_digest.remove(&digest.0);
                self.by_seq.remove(&seq);
                self.evictions += 1;
                None
            }
        }
    }

    /// Remembers `token` unless it expired at `now`, evicting the oldest entries as the
    /// bound requires.
    pub fn insert(&mut self, token: Arc<ValidatedToken>, now: UnixTime) {
        if self.capacity == 0 || now >= token.expires() {
            return;
        }
        let digest = token.digest().0;
        if let Some(seq) = self.by_digest.get(&digest) {
            // Two requests with the same new token raced past the lookup.
            self.by_seq.insert(*seq, token);
            return;
        }
        while self.by_seq.len() >= self.capacity {
            let Some((_, oldest)) = self.by_seq.pop_first() else {
                break;
            };
            self.by_digest.remove(&oldest.digest().0);
            self.evictions += 1;
        }
        let seq = self.next;
        self.next += 1;
        self.by_digest.insert(digest, seq);
        self.by_seq.insert(seq, token);
    }

    /// The number of tokens held.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries dropped so far, to stay within the capacity or because they expired.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

impl Default for TokenStore {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN_CACHE_CAPACITY)
    }
}
