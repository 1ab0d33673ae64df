//! The bounded replay cache behind the `Nonce` check (digest §2.4, L§10.5, checklist L-08).
//!
//! It remembers accepted nonces until their signature would be refused as too old anyway
//! (`created` + window), and never holds more than its capacity. It is plain state with
//! `&mut self` methods: hosts put it behind a `Mutex` (aauth-tower) or a `RefCell` (the npm
//! package) and pass `now`.
//!
//! **Bounded without forgetting unsafely.** Entries are only created by requests whose
//! signature verified, but `hwk` keys cost nothing, so a flood can fill any cache. When
//! full, the cache evicts the entry that expires first and raises a watermark to its expiry;
//! a later request whose own expiry is at or below the watermark is refused with
//! [`ReplayError::Saturated`] (it might replay a forgotten nonce). Fresh signatures expire
//! later than everything evicted, so they keep passing: under a flood the window shrinks
//! for old signatures, and no replay is ever accepted.

use alloc::collections::{BTreeMap, BinaryHeap};
use core::cmp::Reverse;

use super::{NonceClaim, ReplayError};

/// Default capacity of a resource's replay cache (entries).
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A bounded set of recently accepted nonces.
///
/// ```
/// use aauth_core::replay::{NonceClaim, ReplayCache, ReplayError, ReplayScope};
///
/// let claim = || {
///     NonceClaim::new("POST", Some(b"Y3VyaW91c2x5Y3VyaW91cw"), "api.example", "jkt", 1_000,
///                     60, ReplayScope::Unsafe).unwrap().unwrap()
/// };
/// let mut cache = ReplayCache::new(10_000);
/// assert_eq!(cache.check_and_insert(claim(), 1_000), Ok(()));
/// assert_eq!(cache.check_and_insert(claim(), 1_030), Err(ReplayError::Replayed));
/// ```
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    /// Accepted keys by [`ReplayKey::digest`](super::ReplayKey::digest) (32 bytes per entry
    /// instead of three strings) and their expiry.
    seen: BTreeMap<[u8; 32], u64>,
    /// The same entries, soonest expiry first. A key leaves `seen` only when its entry is
    /// popped here, and enters it only when absent, so the two always hold the same keys.
    /// (A heap rather than a second ordered map: less code in the npm package's wasm.)
    by_expiry: BinaryHeap<Reverse<(u64, [u8; 32])>>,
    /// The latest expiry of an entry evicted before it expired.
    watermark: u64,
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayCache {
    /// A cache holding at most `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: BTreeMap::new(),
            by_expiry: BinaryHeap::new(),
            watermark: 0,
        }
    }

    /// Records `claim` at time `now` (seconds), or refuses it.
    ///
    /// # Errors
    /// [`ReplayError::Replayed`] when the same key was accepted and has not expired;
    /// [`ReplayError::Saturated`] when the cache may have forgotten it.
    pub fn check_and_insert(&mut self, claim: NonceClaim, now: u64) -> Result<(), ReplayError> {
        let NonceClaim { key, expires_at } = claim;
        let key = key.digest();
        while let Some(Reverse((exp, _))) = self.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            if let Some(Reverse((_, key))) = self.by_expiry.pop() {
                self.seen.remove(&key);
            }
        }
        if self.seen.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        if expires_at <= self.watermark {
            return Err(ReplayError::Saturated);
        }
        while self.seen.len() >= self.capacity {
            let Some(Reverse((exp, key))) = self.by_expiry.pop() else {
                break;
            };
            self.seen.remove(&key);
            self.watermark = self.watermark.max(exp);
        }
        if expires_at <= self.watermark {
            return Err(ReplayError::Saturated);
        }
        self.by_expiry.push(Reverse((expires_at, key)));
        self.seen.insert(key, expires_at);
        Ok(())
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::String;

    use super::*;
    use crate::replay::ReplayScope;

    fn claim(nonce: &str, created: u64) -> NonceClaim {
        NonceClaim::new(
            "POST",
            Some(nonce.as_bytes()),
            "api.example",
            "jkt",
            created,
            60,
            ReplayScope::Unsafe,
        )
        .expect("valid")
        .expect("checked")
    }

    fn nonce(i: usize) -> String {
        format!("{i:0>16}")
    }

    #[test]
    fn replay_within_the_window_is_refused_and_forgotten_after() {
        let mut c = ReplayCache::new(10);
        assert_eq!(c.check_and_insert(claim(&nonce(1), 100), 100), Ok(()));
        assert_eq!(
            c.check_and_insert(claim(&nonce(1), 100), 159),
            Err(ReplayError::Replayed)
        );
        assert_eq!(
            c.check_and_insert(claim(&nonce(1), 100), 160),
            Err(ReplayError::Replayed),
            "created + window is still inside the window"
        );
        assert_eq!(c.check_and_insert(claim(&nonce(2), 100), 100), Ok(()));
        // Past created + window the signature itself is too old; the entry may go.
        assert_eq!(c.check_and_insert(claim(&nonce(3), 161), 161), Ok(()));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn the_key_is_authority_key_and_nonce() {
        let mut c = ReplayCache::new(10);
        let a = claim(&nonce(1), 100);
        let mut other_key = a.clone();
        other_key.key.key_thumbprint = "other".into();
        let mut other_authority = a.clone();
        other_authority.key.authority = "other.example".into();
        // The parts are kept apart: moving a character between two fields is another key.
        let mut shifted = a.clone();
        shifted.key.authority = "api.examplej".into();
        shifted.key.key_thumbprint = "kt".into();
        assert_eq!(c.check_and_insert(a.clone(), 100), Ok(()));
        assert_eq!(c.check_and_insert(other_key, 100), Ok(()));
        assert_eq!(c.check_and_insert(other_authority, 100), Ok(()));
        assert_eq!(c.check_and_insert(shifted, 100), Ok(()));
        assert_eq!(c.check_and_insert(a, 100), Err(ReplayError::Replayed));
    }

    #[test]
    fn full_cache_stays_bounded_and_never_accepts_a_forgotten_nonce() {
        let mut c = ReplayCache::new(100);
        for i in 0..1_000 {
            // created grows with i, so later entries expire later.
            let r = c.check_and_insert(claim(&nonce(i), 1_000 + i as u64 / 10), 1_000);
            assert_eq!(r, Ok(()), "{i}");
            assert!(c.len() <= 100);
        }
        // Nonce 0 was evicted: its replay is refused as saturated, never accepted.
        assert_eq!(
            c.check_and_insert(claim(&nonce(0), 1_000), 1_000),
            Err(ReplayError::Saturated)
        );
        // A fresh signature still passes.
        assert_eq!(
            c.check_and_insert(claim(&nonce(5_000), 1_100), 1_050),
            Ok(())
        );
        assert_eq!(c.len(), 100);
    }
}
