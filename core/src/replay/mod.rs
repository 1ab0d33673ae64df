//! Replay protection with the optional `Nonce` header (digest §2.4, L§10.5, checklist L-08).
//!
//! `created` alone bounds replays to the verification window; within it a captured request
//! can be sent again. L§10.5 adds an OPTIONAL `Nonce` header ("base64url encoding (no
//! padding) of at least 96 bits"), covered by the signature, and a replay cache "scoped by
//! (canonical authority, public key identifier, nonce) within the `created` window".
//!
//! This module decides, from a request that has already been verified, whether and under
//! which key it must be remembered: [`nonce_claim`]; and remembers accepted nonces, bounded,
//! in a [`ReplayCache`] a host owns (behind its own lock or cell) and hands `now` to. Nothing
//! here reads the clock.
//!
//! ```
//! use aauth_core::replay::{NonceClaim, ReplayScope, parse_nonce};
//!
//! assert_eq!(parse_nonce(b"Y3VyaW91c2x5Y3VyaW91cw"), Ok("Y3VyaW91c2x5Y3VyaW91cw"));
//! assert!(parse_nonce(b"short").is_err());
//! // POST with a nonce: remember it until `created` + window.
//! let claim = NonceClaim::new("POST", Some(b"Y3VyaW91c2x5Y3VyaW91cw"), "api.example", "jkt", 1_000, 60,
//!                             ReplayScope::Unsafe).unwrap().unwrap();
//! assert_eq!(claim.expires_at, 1_060);
//! // GET is not checked under the default scope.
//! assert!(NonceClaim::new("GET", Some(b"Y3VyaW91c2x5Y3VyaW91cw"), "api.example", "jkt", 1_000, 60,
//!                         ReplayScope::Unsafe).unwrap().is_none());
//! ```

use alloc::string::{String, ToString};
use core::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::{ErrorCode, ProtocolError};
use crate::verify::VerifiedRequest;

mod cache;

pub use cache::{DEFAULT_REPLAY_CAPACITY, ReplayCache};

/// The fewest base64url characters that carry 96 bits (L§10.5: "at least 96 bits").
pub const MIN_NONCE_CHARS: usize = 16;

/// The longest `Nonce` accepted: it is stored per request, so it is bounded.
pub const MAX_NONCE_CHARS: usize = 128;

/// Why a request was refused by the replay check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// `Nonce` is not base64url without padding of 96 to 768 bits, or appears twice.
    MalformedNonce,
    /// The same (authority, key, nonce) was already accepted within the window.
    Replayed,
    /// The signature carries no `created`, so the window the nonce is remembered for is
    /// unknown.
    NoCreated,
    /// The cache was full and had to forget nonces that expire at or after this
    /// signature's; it cannot prove this one fresh. The signer retries with a new
    /// signature (a later `created`).
    Saturated,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MalformedNonce => {
                "Nonce must be one base64url value (no padding) of at least 96 bits"
            }
            Self::Replayed => "replayed request: this nonce was already used with this key",
            Self::NoCreated => "a request with a Nonce needs a signature with `created`",
            Self::Saturated => "the replay cache is saturated; sign the request again",
        })
    }
}

impl core::error::Error for ReplayError {}

impl ProtocolError for ReplayError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedNonce | Self::NoCreated => ErrorCode::InvalidRequest,
            // SK-09 §5.4.4: a stale or replayed signature is `invalid_signature`.
            Self::Replayed | Self::Saturated => ErrorCode::InvalidSignature,
        }
    }
}

/// Which methods the replay check applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayScope {
    /// Not checked at all.
    Off,
    /// Methods other than the safe ones (`GET`, `HEAD`, `OPTIONS`, `TRACE`; RFC 9110
    /// §9.2.1): the `POST`/`PUT`/`DELETE`/`PATCH` that L§10.5 asks signers to protect.
    #[default]
    Unsafe,
    /// Every request that carries a `Nonce`.
    All,
}

impl ReplayScope {
    /// Whether a request with `method` is checked.
    pub fn applies_to(self, method: &str) -> bool {
        match self {
            Self::Off => false,
            Self::All => true,
            Self::Unsafe => !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE"),
        }
    }
}

/// Checks the syntax of a `Nonce` value: base64url without padding, 16 to 128 characters
/// (96 to 768 bits), and a length a base64 encoding can have.
///
/// # Errors
/// [`ReplayError::MalformedNonce`].
pub fn parse_nonce(value: &[u8]) -> Result<&str, ReplayError> {
    let ok = (MIN_NONCE_CHARS..=MAX_NONCE_CHARS).contains(&value.len())
        && value.len() % 4 != 1
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if ok {
        core::str::from_utf8(value).map_err(|_| ReplayError::MalformedNonce)
    } else {
        Err(ReplayError::MalformedNonce)
    }
}

/// The identity of one use of a nonce: L§10.5's (canonical authority, public key
/// identifier, nonce). The key identifier is the RFC 7638 thumbprint of the key that signed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey {
    /// The canonical authority the request was verified under.
    pub authority: String,
    /// The signing key's RFC 7638 thumbprint.
    pub key_thumbprint: String,
    /// The `Nonce` value.
    pub nonce: String,
}

impl ReplayKey {
    /// SHA-256 over the length-prefixed parts: collision resistant, so two different
    /// (authority, key, nonce) never share an entry and a fresh request is never taken for a
    /// replay; the length prefixes keep `("ab", "c")` and `("a", "bc")` apart. The
    /// [`ReplayCache`] keys its entries by it, and so do hosts that keep nonces in a shared
    /// store (aauth-spin), so one use has one identity everywhere.
    ///
    /// ```
    /// use aauth_core::replay::ReplayKey;
    ///
    /// let key = |a: &str, k: &str| ReplayKey {
    ///     authority: a.into(),
    ///     key_thumbprint: k.into(),
    ///     nonce: "Y3VyaW91c2x5Y3VyaW91cw".into(),
    /// };
    /// assert_eq!(key("api.example", "jkt").digest(), key("api.example", "jkt").digest());
    /// assert_ne!(key("ab", "c").digest(), key("a", "bc").digest());
    /// ```
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&self.authority, &self.key_thumbprint, &self.nonce] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }
}

/// A nonce to remember: its key and until when a replay of it could still pass the
/// `created` window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceClaim {
    /// What identifies the use.
    pub key: ReplayKey,
    /// `created` + window: after this time the signature itself is refused as too old,
    /// so the cache may forget the nonce.
    pub expires_at: u64,
}

impl NonceClaim {
    /// The claim for a request, or `None` when the request is not checked (no `Nonce`, or
    /// a method outside `scope`).
    ///
    /// `nonce` is the `Nonce` field value (absent: `None`); `created` the signature's
    /// `created`; `window` the verifier's `created` window in seconds.
    ///
    /// # Errors
    /// [`ReplayError::MalformedNonce`], [`ReplayError::NoCreated`].
    pub fn new(
        method: &str,
        nonce: Option<&[u8]>,
        authority: &str,
        key_thumbprint: &str,
        created: u64,
        window: u64,
        scope: ReplayScope,
    ) -> Result<Option<Self>, ReplayError> {
        let Some(nonce) = nonce else {
            return Ok(None);
        };
        if !scope.applies_to(method) {
            return Ok(None);
        }
        let nonce = parse_nonce(nonce)?;
        Ok(Some(Self {
            key: ReplayKey {
                authority: authority.to_string(),
                key_thumbprint: key_thumbprint.to_string(),
                nonce: nonce.to_string(),
            },
            expires_at: created.saturating_add(window),
        }))
    }
}

/// [`NonceClaim::new`] for a request the core has verified: the nonce is covered by the
/// signature (L-08, enforced by the AAuth profile of
/// [`VerifyPolicy`](crate::httpsig::VerifyPolicy)), so the claim cannot be forged.
///
/// `nonce_fields` are the request's `Nonce` field values (more than one is malformed).
///
/// # Errors
/// See [`NonceClaim::new`]; [`ReplayError::NoCreated`] when the verified signature had no
/// `created` (only possible with a policy that does not require it).
pub fn nonce_claim<'a>(
    method: &str,
    mut nonce_fields: impl Iterator<Item = &'a [u8]>,
    authority: &str,
    verified: &VerifiedRequest,
    window: u64,
    scope: ReplayScope,
) -> Result<Option<NonceClaim>, ReplayError> {
    let nonce = nonce_fields.next();
    if nonce.is_some() && nonce_fields.next().is_some() {
        return Err(ReplayError::MalformedNonce);
    }
    if nonce.is_none() || !scope.applies_to(method) {
        return Ok(None);
    }
    let created = verified.created().ok_or(ReplayError::NoCreated)?;
    NonceClaim::new(
        method,
        nonce,
        authority,
        verified.signer_thumbprint(),
        created,
        window,
        scope,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_syntax() {
        assert!(parse_nonce(b"Y3VyaW91c2x5Y3VyaW91cw").is_ok());
        assert!(parse_nonce(&[b'A'; MIN_NONCE_CHARS]).is_ok());
        for bad in [
            &b"AAAAAAAAAAAAAAA"[..],          // 15 chars: 90 bits
            b"Y3VyaW91c2x5Y3VyaW91cw==",      // padding
            b"Y3VyaW91c2x5Y3VyaW91+w",        // standard alphabet
            b"Y3VyaW91 2x5Y3VyaW91cw",        // space
            b"AAAAAAAAAAAAAAAAA",             // 17 chars: no base64 length
            &[b'A'; MAX_NONCE_CHARS + 4][..], // too long
        ] {
            assert_eq!(
                parse_nonce(bad),
                Err(ReplayError::MalformedNonce),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scope() {
        for m in ["POST", "PUT", "DELETE", "PATCH"] {
            assert!(ReplayScope::Unsafe.applies_to(m));
        }
        for m in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert!(!ReplayScope::Unsafe.applies_to(m));
            assert!(ReplayScope::All.applies_to(m));
        }
        assert!(!ReplayScope::Off.applies_to("POST"));
    }

    #[test]
    fn malformed_nonce_refused_only_when_checked() {
        let n = Some(&b"bad"[..]);
        assert_eq!(
            NonceClaim::new("POST", n, "a", "k", 1, 60, ReplayScope::Unsafe),
            Err(ReplayError::MalformedNonce)
        );
        assert_eq!(
            NonceClaim::new("GET", n, "a", "k", 1, 60, ReplayScope::Unsafe),
            Ok(None)
        );
        assert_eq!(ReplayError::Replayed.code(), ErrorCode::InvalidSignature);
        assert_eq!(
            ReplayError::MalformedNonce.code(),
            ErrorCode::InvalidRequest
        );
    }
}
