//! The bounded replay cache behind the `Nonce` check (digest §2.4, L§10.5, checklist L-08).
//!
//! The core decides which requests are checked and under which key
//! ([`aauth_core::replay::nonce_claim`]); this store remembers accepted nonces until their
//! signature would be refused as too old anyway (`created` + window), and never holds more
//! than its capacity.
//!
//! **Bounded without forgetting unsafely.** Entries are only created by requests whose
//! signature verified, but `hwk` keys cost nothing, so a flood can fill any cache. When
//! full, the store evicts the entry that expires first and raises a watermark to its expiry;
//! a later request whose own expiry is at or below the watermark is refused with
//! [`ReplayError::Saturated`] (it might replay a forgotten nonce). Fresh signatures expire
//! later than everything evicted, so they keep passing: under a flood the window shrinks
//! for old signatures, and no replay is ever accepted.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aauth_core::replay::{NonceClaim, ReplayError, ReplayKey};

/// Default capacity of a resource's replay cache (entries).
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A bounded, thread-safe set of recently accepted nonces.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    state: Mutex<State>,
}

/// Each key is held by both indexes through one `Arc` (three strings, allocated once and
/// outside the lock).
#[derive(Debug, Default)]
struct State {
    seen: HashMap<Arc<ReplayKey>, u64>,
    by_expiry: BTreeSet<(u64, Arc<ReplayKey>)>,
    /// The latest expiry of an entry evicted before it expired.
    watermark: u64,
}

impl ReplayCache {
    /// A cache holding at most `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Records `claim` at time `now` (seconds), or refuses it.
    ///
    /// # Errors
    /// [`ReplayError::Replayed`] when the same key was accepted and has not expired;
    /// [`ReplayError::Saturated`] when the cache may have forgotten it.
    pub fn check_and_insert(&self, claim: NonceClaim, now: u64) -> Result<(), ReplayError> {
        let NonceClaim { key, expires_at } = claim;
        let key = Arc::new(key);
        // A poisoned lock only means another request panicked mid-update; the maps are
        // still consistent enough to keep refusing replays.
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((exp, _)) = s.by_expiry.first() {
            if *exp >= now {
                break;
            }
            if let Some((_, key)) = s.by_expiry.pop_first() {
                s.seen.remove(&key);
            }
        }
        if s.seen.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        if expires_at <= s.watermark {
            return Err(ReplayError::Saturated);
        }
        while s.seen.len() >= self.capacity {
            let Some((exp, key)) = s.by_expiry.pop_first() else {
                break;
            };
            s.seen.remove(&key);
            s.watermark = s.watermark.max(exp);
        }
        if expires_at <= s.watermark {
            return Err(ReplayError::Saturated);
        }
        s.by_expiry.insert((expires_at, Arc::clone(&key)));
        s.seen.insert(key, expires_at);
        Ok(())
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use aauth_core::replay::ReplayScope;

    use super::*;

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
        let c = ReplayCache::new(10);
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
        let c = ReplayCache::new(10);
        let a = claim(&nonce(1), 100);
        let mut other_key = a.clone();
        other_key.key.key_thumbprint = "other".into();
        let mut other_authority = a.clone();
        other_authority.key.authority = "other.example".into();
        assert_eq!(c.check_and_insert(a, 100), Ok(()));
        assert_eq!(c.check_and_insert(other_key, 100), Ok(()));
        assert_eq!(c.check_and_insert(other_authority, 100), Ok(()));
    }

    #[test]
    fn full_cache_stays_bounded_and_never_accepts_a_forgotten_nonce() {
        let c = ReplayCache::new(100);
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
