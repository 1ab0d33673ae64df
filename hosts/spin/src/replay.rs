//! The `Nonce` replay check (digest §2.4, L§10.5, checklist L-08) in a store shared by every
//! instance of the component.
//!
//! A Spin instance serves one request, so the core's in-memory
//! [`ReplayCache`](aauth_core::replay::ReplayCache) (what aauth-tower keeps behind a lock)
//! would start empty each time. The nonces live in the key-value store `AAUTH_REPLAY_STORE`
//! (default: `AAUTH_KV_STORE`'s, shared with the key cache) instead, reached through `wasi:keyvalue@0.2.0-draft2` (build feature `spin-replay`), which
//! Spin serves from the same stores as `spin:key-value` and which, unlike it, has an atomic
//! operation: `atomics.increment`. Remembering a nonce is one increment of its key: the
//! instance that gets `1` saw it first and accepts; every other gets more and refuses with
//! [`ReplayError::Replayed`]. Two copies of a request that reach two instances at once are
//! therefore never both accepted (a `get` then `set` would let both through).
//!
//! **Keys.** A use of a nonce is identified by the core's
//! [`ReplayKey::digest`](aauth_core::replay::ReplayKey::digest) (SHA-256 over the canonical
//! authority, the signing key's thumbprint and the nonce, exactly what aauth-tower's cache is
//! keyed by), written in hex. Its counter is `aauth-nonce/<hex>` ([`nonce_key`]), whatever
//! the signature's `created`, so a nonce is refused again by the same key within the window
//! however it was re-signed, as by aauth-tower. An accepted nonce also gets an index entry
//! `aauth-nonce/<bucket>/<hex>` ([`index_key`]), `<bucket>` being the claim's `expires_at`
//! (`created` + window) divided by [`BUCKET_SECS`]: what cleanup finds it by.
//!
//! **Cleanup without TTLs.** Neither interface can give an entry a lifetime. The first
//! instance to accept a nonce in each [`BUCKET_SECS`] period, and every [`SWEEP_EVERY`]th
//! after it (the count is the atomic `aauth-nonce/<period>/sweep` counter, [`sweep_key`]),
//! lists the store and deletes the index entries of buckets that ended at least
//! [`GRACE_SECS`] ago ([`expired`]), their counters first: at most [`MAX_SWEEP_DELETES`]
//! index entries from at most [`MAX_LIST_PAGES`] pages, in `batch.delete-many` calls of
//! [`DELETE_BATCH`] keys. A nonce is deleted only after a replay of it would be refused as
//! too old by every instance whose clock is within [`GRACE_SECS`] of the sweeper's; keys it
//! does not recognise are never touched. Sweeping is best effort: a failed listing or
//! deletion leaves the keys for the next sweep and never fails the request. Until its index
//! entry is swept, a counter also refuses a reuse of its nonce after the window (stricter
//! than aauth-tower, which forgets at the window's end; signers never reuse nonces).
//!
//! **Failing closed.** When a request must be checked and the store cannot be opened (no
//! such store, not granted, or a build without `spin-replay`) or the increment fails, the
//! request is refused ([`ReplayRefusal::StoreUnavailable`], a `503`): a replay check that
//! cannot run is not skipped. `AAUTH_REPLAY_SCOPE=off` turns the check off.
//!
//! The `wasi:keyvalue` functions are synchronous, so `AAUTH_FETCH_TIMEOUT` cannot bound them
//! the way it bounds `spin:key-value` calls in [`crate::kv`]; the store backend's own
//! timeouts apply.

use aauth_core::replay::{self, NonceClaim, ReplayError};
use aauth_core::verify::VerifiedRequest;

use crate::config::Config;

/// Prefix of every key the check writes.
pub const PREFIX: &str = "aauth-nonce/";

/// Length of a bucket and of a sweep period, in seconds: the default `created` window.
pub const BUCKET_SECS: u64 = 60;

/// How long after its bucket ends a nonce is kept: room for the clocks of two instances to
/// differ by up to this much without a replay outliving its entry.
pub const GRACE_SECS: u64 = 60;

/// Besides the first, every this-many-th nonce accepted in a period also sweeps, so that
/// deletion keeps up with a busy store.
pub const SWEEP_EVERY: i64 = 1000;

/// Most keys one sweep deletes.
pub const MAX_SWEEP_DELETES: usize = 10_000;

/// Keys per `delete-many` call.
pub const DELETE_BATCH: usize = 500;

/// Most `list-keys` pages one sweep reads (Spin answers with one page, without a cursor).
pub const MAX_LIST_PAGES: usize = 8;

/// Why the replay check refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayRefusal {
    /// The nonce is malformed or was seen: the core's error, rendered as aauth-tower does.
    Replay(ReplayError),
    /// The request had to be checked and the store could not be opened or failed.
    StoreUnavailable,
}

/// The counter of `claim`'s use: `aauth-nonce/` + the hex of its
/// [`ReplayKey::digest`](aauth_core::replay::ReplayKey::digest).
///
/// ```
/// use aauth_core::replay::{NonceClaim, ReplayScope};
/// use aauth_spin::replay::{index_key, nonce_key};
///
/// let claim = |created| {
///     NonceClaim::new("POST", Some(b"Y3VyaW91c2x5Y3VyaW91cw"), "api.example", "jkt",
///                     created, 60, ReplayScope::Unsafe).unwrap().unwrap()
/// };
/// let key = nonce_key(&claim(1_000));
/// assert_eq!(key.len(), "aauth-nonce/".len() + 64);
/// assert_eq!(key, nonce_key(&claim(1_030)), "re-signing does not change the use");
/// // The index entry: expires_at 1060 is in the 60 s bucket 17.
/// assert_eq!(index_key(&claim(1_000)), format!("aauth-nonce/17/{}", &key[12..]));
/// ```
pub fn nonce_key(claim: &NonceClaim) -> String {
    let mut key = String::with_capacity(PREFIX.len() + 64);
    key.push_str(PREFIX);
    for b in claim.key.digest() {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    key
}

/// The index entry of an accepted `claim`: `aauth-nonce/<expires_at / BUCKET_SECS>/<hex>`.
pub fn index_key(claim: &NonceClaim) -> String {
    let counter = nonce_key(claim);
    format!(
        "{PREFIX}{}/{}",
        claim.expires_at / BUCKET_SECS,
        &counter[PREFIX.len()..]
    )
}

/// The counter an index entry stands for (`None` for a sweep counter).
pub fn counter_of(index: &str) -> Option<String> {
    let (_, hex) = index.strip_prefix(PREFIX)?.split_once('/')?;
    (hex != "sweep").then(|| format!("{PREFIX}{hex}"))
}

/// The sweep counter of the period `now` falls in (itself in that bucket, so it is swept
/// with it).
pub fn sweep_key(now: u64) -> String {
    format!("{PREFIX}{}/sweep", now / BUCKET_SECS)
}

/// Whether the `n`th nonce accepted in a period sweeps.
pub fn sweeps(n: i64) -> bool {
    n == 1 || (n > 0 && n % SWEEP_EVERY == 0)
}

/// Whether `key` is an index entry or a sweep counter whose bucket ended at least
/// [`GRACE_SECS`] before `now`. Anything else (counters, which go with their index entry,
/// other prefixes, malformed keys) is not deleted on its own.
///
/// ```
/// use aauth_spin::replay::expired;
///
/// let key = format!("aauth-nonce/17/{}", "ab".repeat(32));   // expires_at in [1020, 1080)
/// assert!(!expired(&key, 1_139));
/// assert!(expired(&key, 1_140));
/// assert!(expired("aauth-nonce/17/sweep", 1_140));
/// assert!(!expired("aauth-nonce/17/other", 9_999));
/// assert!(!expired("aauth-spin:sha-256=:x", 9_999));
/// assert!(!expired(&format!("aauth-nonce/{}", "ab".repeat(32)), 9_999));
/// ```
pub fn expired(key: &str, now: u64) -> bool {
    let Some((bucket, rest)) = key.strip_prefix(PREFIX).and_then(|k| k.split_once('/')) else {
        return false;
    };
    let ours = rest == "sweep" || (rest.len() == 64 && rest.bytes().all(|b| HEX.contains(&b)));
    if !ours || bucket.is_empty() || !bucket.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let end = bucket
        .parse::<u64>()
        .ok()
        .and_then(|b| b.checked_add(1)?.checked_mul(BUCKET_SECS));
    end.is_some_and(|end| end.saturating_add(GRACE_SECS) <= now)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// L§10.5: refuses a verified request whose (authority, key, `Nonce`) was accepted within the
/// window by any instance, and remembers it otherwise.
///
/// # Errors
/// [`ReplayRefusal`].
pub fn check(
    parts: &http::request::Parts,
    verified: &VerifiedRequest,
    window: u64,
    cfg: &Config,
    now: u64,
) -> Result<(), ReplayRefusal> {
    let nonces = parts.headers.get_all("nonce").iter().map(|h| h.as_bytes());
    let claim = replay::nonce_claim(
        parts.method.as_str(),
        nonces,
        &cfg.authority,
        verified,
        window,
        cfg.replay_scope,
    )
    .map_err(ReplayRefusal::Replay)?;
    let Some(claim) = claim else {
        return Ok(());
    };
    let store = store::Store::open(&cfg.replay_store).ok_or(ReplayRefusal::StoreUnavailable)?;
    match store.increment(&nonce_key(&claim)) {
        Some(1) => {}
        Some(_) => return Err(ReplayRefusal::Replay(ReplayError::Replayed)),
        None => return Err(ReplayRefusal::StoreUnavailable),
    }
    // Without its index entry the counter would never be swept; the store is failing anyway.
    store
        .increment(&index_key(&claim))
        .ok_or(ReplayRefusal::StoreUnavailable)?;
    if store.increment(&sweep_key(now)).is_some_and(sweeps) {
        store.sweep(now);
    }
    Ok(())
}

#[cfg(feature = "spin-replay")]
mod store {
    //! `wasi:keyvalue` through bindings generated from `wit/` (spin-sdk 7 ships the WIT,
    //! copied there, but no wrapper); only the functions called here are imported.

    mod wit {
        #![allow(
            dead_code,
            missing_docs,
            unreachable_pub,
            unused_qualifications,
            clippy::all,
            clippy::manual_let_else,
            clippy::unwrap_used,
            clippy::use_self
        )]
        spin_sdk::wit_bindgen::generate!({
            runtime_path: "spin_sdk::wit_bindgen::rt",
            path: "wit",
            world: "aauth:spin/replay-store",
            generate_all,
        });
    }

    use wit::wasi::keyvalue::{atomics, batch, store};

    use super::{DELETE_BATCH, MAX_LIST_PAGES, MAX_SWEEP_DELETES, counter_of, expired};

    /// An open bucket.
    pub(super) struct Store(store::Bucket);

    impl Store {
        pub(super) fn open(label: &str) -> Option<Self> {
            store::open(label).ok().map(Self)
        }

        /// The value of `key` after adding one (a missing key counts as zero).
        pub(super) fn increment(&self, key: &str) -> Option<i64> {
            atomics::increment(&self.0, key, 1).ok()
        }

        pub(super) fn sweep(&self, now: u64) {
            let mut doomed = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_LIST_PAGES {
                let Ok(page) = self.0.list_keys(cursor.as_deref()) else {
                    break;
                };
                let room = MAX_SWEEP_DELETES - doomed.len();
                doomed.extend(page.keys.into_iter().filter(|k| expired(k, now)).take(room));
                cursor = page.cursor;
                if cursor.is_none() || doomed.len() >= MAX_SWEEP_DELETES {
                    break;
                }
            }
            // Counters before their index entries: a failure leaves the index entry, and so
            // the counter, for the next sweep.
            for chunk in doomed.chunks(DELETE_BATCH) {
                let counters: Vec<String> = chunk.iter().filter_map(|k| counter_of(k)).collect();
                if (!counters.is_empty() && batch::delete_many(&self.0, &counters).is_err())
                    || batch::delete_many(&self.0, chunk).is_err()
                {
                    break;
                }
            }
        }
    }
}

#[cfg(not(feature = "spin-replay"))]
mod store {
    //! Without `spin-replay` there is no shared store: a request that must be checked is
    //! refused.

    pub(super) struct Store;

    impl Store {
        pub(super) fn open(_label: &str) -> Option<Self> {
            None
        }

        pub(super) fn increment(&self, _key: &str) -> Option<i64> {
            None
        }

        pub(super) fn sweep(&self, _now: u64) {}
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
        .unwrap()
        .unwrap()
    }

    #[test]
    fn keys_are_per_use_and_indexed_by_expiry() {
        let a = claim("Y3VyaW91c2x5Y3VyaW91cw", 1_000);
        let b = claim("bm90LXRoZS1zYW1lLW5vbmNl", 1_000);
        let later = claim("Y3VyaW91c2x5Y3VyaW91cw", 1_100);
        assert_ne!(nonce_key(&a), nonce_key(&b));
        assert_eq!(nonce_key(&a), nonce_key(&later));
        assert!(index_key(&a).starts_with("aauth-nonce/17/"));
        assert!(index_key(&later).starts_with("aauth-nonce/19/"));
        assert_eq!(counter_of(&index_key(&a)), Some(nonce_key(&a)));
        assert_eq!(counter_of(&index_key(&later)), Some(nonce_key(&a)));
        assert_eq!(counter_of(&sweep_key(1_000)), None);
    }

    #[test]
    fn only_expired_buckets_of_ours_are_swept() {
        let now = 10_000;
        let c = claim("Y3VyaW91c2x5Y3VyaW91cw", now - 60);
        // expires_at == now: a replay right now would still be checked; never deleted.
        assert!(!expired(&index_key(&c), now));
        // Counters go only with their index entry.
        assert!(!expired(&nonce_key(&c), u64::MAX));
        // No claim verified at `now` expires before `now`; every key written at or after
        // `now` (expires_at ≥ now) survives sweeps until GRACE_SECS after its bucket.
        for created in now - 60..now + 60 {
            let key = index_key(&claim("Y3VyaW91c2x5Y3VyaW91cw", created));
            let exp = created + 60;
            assert!(!expired(&key, exp + GRACE_SECS - 1), "{key}");
            assert!(expired(&key, exp + GRACE_SECS + BUCKET_SECS), "{key}");
        }
        assert!(!expired(&sweep_key(now), now + BUCKET_SECS));
        assert!(expired(&sweep_key(now), now + 2 * BUCKET_SECS + GRACE_SECS));
        for foreign in [
            "aauth-spin:sha-256=:abc",
            "aauth-nonce/",
            "aauth-nonce//sweep",
            "aauth-nonce/x/sweep",
            "aauth-nonce/1/",
            "aauth-nonce/1/sweepx",
            "aauth-nonce/99999999999999999999999/sweep",
            "aauth-nonce/+5/sweep",
            &format!("aauth-nonce/1/{}", "AB".repeat(32)),
            &format!("aauth-nonce/1/{}/x", "ab".repeat(32)),
            "other-app/1/sweep",
        ] {
            assert!(!expired(foreign, u64::MAX), "{foreign}");
        }
    }

    #[test]
    fn sweep_schedule() {
        assert!(sweeps(1));
        assert!(!sweeps(2) && !sweeps(SWEEP_EVERY - 1) && !sweeps(0) && !sweeps(-SWEEP_EVERY));
        assert!(sweeps(SWEEP_EVERY) && sweeps(3 * SWEEP_EVERY));
    }
}
