//! Lockout of a user name after repeated failed sign-ins on the login page.
//!
//! Without a limit, whoever holds one request token and a session cookie can try passwords
//! for a name indefinitely (credential stuffing, guessing), and every try costs the server
//! an Argon2id verification (tens of milliseconds of CPU and 19 MiB of memory), so guessing
//! is also a cheap way to exhaust it.
//!
//! The rule ([`LoginThrottlePolicy`], defaults in parentheses): the first
//! `max_failures` − 1 consecutive failures for a name (4) are answered as before (`401` and
//! the login page); the `max_failures`-th (5th) locks the name for `base_lockout` (30 s),
//! and every further failure once a lockout has ended doubles it, up to `max_lockout`
//! (15 min). While a name is locked its logins are refused with `429 Too Many Requests`,
//! `Retry-After` and a message on the login page, **before** the password is looked at, so
//! no Argon2 runs. A successful login clears the count; a count is forgotten `max_lockout`
//! after the later of its last failure and the end of its lockout.
//!
//! An attempt is counted when it is admitted, before its password is checked, and uncounted
//! by a success: concurrent guesses therefore cannot all slip past the limit while the first
//! ones are still hashing.
//!
//! Names are counted exactly as the store compares them (byte for byte: no case folding, no
//! trimming), whether or not such a user exists, so the throttle answers a name nobody has
//! exactly as it answers a real one and does not reveal which names exist.
//!
//! # Limits
//!
//! * The count lives in the memory of one process. Several instances behind a load balancer
//!   each count separately (a guesser reaching `n` instances gets up to `n` times the free
//!   failures), and a restart forgets every count.
//! * At most `max_tracked` names (10 000) are remembered. When full, forgotten counts go
//!   first, then the count that would be forgotten soonest: names that are not locked go
//!   before locked ones, so a flood of fresh names (each paid for with an Argon2 run) cannot
//!   cheaply push a locked name out.
//! * It limits guesses per name, not per client: one password tried against many names
//!   (password spraying) and the raw request rate need a per-client limit in front, e.g. at
//!   the reverse proxy.
//! * Anyone who knows a name can keep it locked, up to `max_lockout` at a time: the usual
//!   price of a per-name lockout, and the reason the cap is short.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// When failed sign-ins lock a user name out (see the [module docs](self)). Set it with
/// [`IssuerConfig::with_login_throttle`](crate::IssuerConfig::with_login_throttle).
///
/// ```
/// use aauth_issuer::LoginThrottlePolicy;
/// let mut policy = LoginThrottlePolicy::default();
/// assert_eq!(policy.max_failures, 5);
/// policy.max_lockout = 3600; // lock for at most an hour
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginThrottlePolicy {
    /// The consecutive failure that starts the first lockout (default 5; 0 counts as 1).
    pub max_failures: u32,
    /// The first lockout, in seconds (default 30); each further failure doubles it.
    /// 0 disables the lockout.
    pub base_lockout: u64,
    /// The longest lockout, in seconds (default 900).
    pub max_lockout: u64,
    /// How many user names are remembered at most (default 10 000; 0 counts as 1).
    pub max_tracked: usize,
}

impl Default for LoginThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_lockout: 30,
            max_lockout: 15 * 60,
            max_tracked: 10_000,
        }
    }
}

impl LoginThrottlePolicy {
    /// The lockout after `failures` consecutive failures (`0` before the threshold).
    fn lockout(&self, failures: u32) -> u64 {
        let threshold = self.max_failures.max(1);
        if failures < threshold {
            return 0;
        }
        let factor = 1u64.checked_shl(failures - threshold).unwrap_or(u64::MAX);
        self.base_lockout
            .saturating_mul(factor)
            .min(self.max_lockout)
    }
}

/// A sign-in refused because the name is locked out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LockedOut {
    /// Seconds until the lockout ends (at least 1), for `Retry-After`.
    pub(crate) retry_after: u64,
}

impl fmt::Display for LockedOut {
    /// The message shown on the login page.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.retry_after;
        f.write_str("Too many failed sign-in attempts. Try again in ")?;
        match s {
            1 => f.write_str("1 second.")?,
            2..120 => write!(f, "{s} seconds.")?,
            _ => write!(f, "{} minutes.", s.div_ceil(60))?,
        }
        Ok(())
    }
}

/// The failure count of one name.
#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: u64,
    /// Unix seconds; the name is locked while `now < locked_until`.
    locked_until: u64,
}

impl Entry {
    fn locked_out(&self, now: u64) -> Option<LockedOut> {
        (now < self.locked_until).then(|| LockedOut {
            retry_after: self.locked_until - now,
        })
    }

    /// When this count is forgotten.
    fn forgotten_at(&self, policy: &LoginThrottlePolicy) -> u64 {
        self.last_failure
            .max(self.locked_until)
            .saturating_add(policy.max_lockout)
    }
}

/// Consecutive failed sign-ins per user name, in memory, bounded (see the module docs).
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    policy: LoginThrottlePolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl LoginThrottle {
    pub(crate) fn new(policy: LoginThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a sign-in attempt for `name` and counts it as a failure until
    /// [`succeeded`](Self::succeeded) clears it; refuses it while `name` is locked out.
    pub(crate) fn admit(&self, name: &str, now: u64) -> Result<(), LockedOut> {
        let mut entries = self.entries();
        let fresh = Entry {
            failures: 0,
            last_failure: now,
            locked_until: 0,
        };
        let entry = match entries.get_mut(name) {
            Some(e) => {
                if let Some(locked) = e.locked_out(now) {
                    return Err(locked);
                }
                if now >= e.forgotten_at(&self.policy) {
                    *e = fresh;
                }
                e
            }
            None => {
                self.make_room(&mut entries, now);
                entries.entry(name.to_owned()).or_insert(fresh)
            }
        };
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let lockout = self.policy.lockout(entry.failures);
        if lockout > 0 {
            entry.locked_until = now.saturating_add(lockout);
        }
        Ok(())
    }

    /// Whether `name` is locked out now (e.g. by the failure just made).
    pub(crate) fn locked_out(&self, name: &str, now: u64) -> Option<LockedOut> {
        self.entries().get(name).and_then(|e| e.locked_out(now))
    }

    /// Forgets the failures of `name`: its password was right.
    pub(crate) fn succeeded(&self, name: &str) {
        self.entries().remove(name);
    }

    /// Keeps the map under its cap before a new name goes in: drops forgotten counts, then,
    /// if still full, the count that would be forgotten soonest.
    fn make_room(&self, entries: &mut HashMap<String, Entry>, now: u64) {
        let cap = self.policy.max_tracked.max(1);
        if entries.len() < cap {
            return;
        }
        entries.retain(|_, e| now < e.forgotten_at(&self.policy));
        while entries.len() >= cap {
            let soonest = entries
                .iter()
                .min_by_key(|(_, e)| e.forgotten_at(&self.policy))
                .map(|(name, _)| name.clone());
            match soonest {
                Some(name) => entries.remove(&name),
                None => break,
            };
        }
    }

    /// The map; a panic elsewhere while it was held leaves counts that are still valid.
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_failures: u32, base: u64, max: u64, tracked: usize) -> LoginThrottlePolicy {
        LoginThrottlePolicy {
            max_failures,
            base_lockout: base,
            max_lockout: max,
            max_tracked: tracked,
        }
    }

    #[test]
    fn lockout_starts_at_the_threshold_doubles_and_is_capped() {
        let p = LoginThrottlePolicy::default();
        let got: Vec<u64> = (1..=11).map(|n| p.lockout(n)).collect();
        assert_eq!(got, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(p.lockout(u32::MAX), 900, "no overflow");
        assert_eq!(policy(0, 10, 100, 1).lockout(1), 10, "0 counts as 1");
        assert_eq!(policy(1, 0, 100, 1).lockout(9), 0, "0 disables");
    }

    #[test]
    fn locked_names_are_refused_until_the_lockout_ends_and_success_clears() {
        let t = LoginThrottle::new(policy(2, 10, 100, 10));
        assert_eq!(t.admit("alice", 1000), Ok(()));
        assert_eq!(t.locked_out("alice", 1000), None);
        assert_eq!(t.admit("alice", 1000), Ok(()));
        let locked = LockedOut { retry_after: 10 };
        assert_eq!(t.locked_out("alice", 1000), Some(locked));
        assert_eq!(t.admit("alice", 1004), Err(LockedOut { retry_after: 6 }));
        // A refused attempt is not counted: the lockout does not grow.
        assert_eq!(t.admit("alice", 1010), Ok(()));
        assert_eq!(
            t.locked_out("alice", 1010),
            Some(LockedOut { retry_after: 20 })
        );
        t.succeeded("alice");
        assert_eq!(t.admit("alice", 1011), Ok(()));
        assert_eq!(t.locked_out("alice", 1011), None);
    }

    #[test]
    fn names_are_compared_byte_for_byte_like_the_store() {
        let t = LoginThrottle::new(policy(1, 10, 100, 10));
        assert_eq!(t.admit("alice", 0), Ok(()));
        assert!(t.locked_out("alice", 0).is_some());
        for other in ["Alice", "alice ", " alice"] {
            assert_eq!(t.locked_out(other, 0), None, "{other:?}");
        }
    }

    #[test]
    fn counts_are_forgotten_after_a_quiet_period() {
        let t = LoginThrottle::new(policy(3, 10, 100, 10));
        t.admit("bob", 0).unwrap();
        t.admit("bob", 0).unwrap();
        t.admit("bob", 99).unwrap();
        assert!(t.locked_out("bob", 99).is_some(), "still remembered at 99");
        t.succeeded("bob");
        t.admit("bob", 0).unwrap();
        t.admit("bob", 0).unwrap();
        t.admit("bob", 100).unwrap();
        assert_eq!(t.locked_out("bob", 100), None, "forgotten at 100");
    }

    #[test]
    fn the_map_never_tracks_more_than_the_cap() {
        let t = LoginThrottle::new(policy(2, 10, 100, 64));
        // "victim" is locked; the flood of fresh names must not evict it.
        t.admit("victim", 0).unwrap();
        t.admit("victim", 0).unwrap();
        for i in 0..1000 {
            t.admit(&format!("user{i}"), 1).unwrap();
            assert!(t.entries().len() <= 64);
        }
        assert_eq!(t.entries().len(), 64);
        assert!(t.locked_out("victim", 1).is_some(), "locked names go last");
        // Once counts are forgotten they make room first, and a name comes back fresh.
        t.admit("late", 1000).unwrap();
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn message_names_the_wait() {
        let m = |s| LockedOut { retry_after: s }.to_string();
        assert_eq!(
            m(1),
            "Too many failed sign-in attempts. Try again in 1 second."
        );
        assert!(m(30).ends_with("in 30 seconds."));
        assert!(m(121).ends_with("in 3 minutes."));
        assert!(m(900).ends_with("in 15 minutes."));
    }
}
