//! `Content-Digest` (RFC 9530): sha-256 on output, sha-256 and sha-512 on input.
//!
//! AAuth requires `content-digest` to be covered whenever a request has a body and requires
//! the verifier to recompute it (digest §5.1 L-06, L-07). The reference 0.1.0 never
//! recomputes it (reference notes §4); we always do.

use alloc::string::String;
use core::fmt;

use sha2::{Digest as _, Sha256, Sha512};

use crate::b64;
use crate::error::{ErrorCode, ProtocolError};
use crate::sf::{self, BareItem, Member};

/// The `Content-Digest` value for `body`: `sha-256=:<standard base64>:`.
///
/// ```
/// assert_eq!(
///     aauth_core::content_digest::sha256(b"{\"hello\": \"world\"}"),
///     "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
/// );
/// ```
pub fn sha256(body: &[u8]) -> String {
    let mut out = String::with_capacity(55);
    out.push_str("sha-256=:");
    out.push_str(&b64::std_encode(&Sha256::digest(body)));
    out.push(':');
    out
}

/// Why a `Content-Digest` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// The header is not a structured-field dictionary of byte sequences.
    Malformed,
    /// A digest does not match the body.
    Mismatch,
    /// No member uses an algorithm we check (`sha-256`, `sha-512`).
    NoSupportedAlgorithm,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "Content-Digest is malformed",
            Self::Mismatch => "Content-Digest does not match the body",
            Self::NoSupportedAlgorithm => "Content-Digest has no sha-256 or sha-512 member",
        })
    }
}

impl core::error::Error for DigestError {}

impl ProtocolError for DigestError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidSignature
    }
}

/// Checks a `Content-Digest` header value against the body. Every `sha-256` and `sha-512`
/// member must match and at least one must be present; other algorithms are ignored
/// (RFC 9530 §2 lets a recipient pick).
///
/// # Errors
/// [`DigestError`] when the value is malformed, has no supported member, or mismatches.
pub fn verify(header: &str, body: &[u8]) -> Result<(), DigestError> {
    let dict = sf::parse_dictionary(header).map_err(|_| DigestError::Malformed)?;
    let mut checked = false;
    for (alg, member) in &dict {
        let Member::Item(BareItem::ByteSequence(b), _) = member else {
            return Err(DigestError::Malformed);
        };
        let expected = b64::std_decode(b).ok_or(DigestError::Malformed)?;
        let ok = match *alg {
            "sha-256" => Sha256::digest(body).as_slice() == expected.as_slice(),
            "sha-512" => Sha512::digest(body).as_slice() == expected.as_slice(),
            _ => continue,
        };
        if !ok {
            return Err(DigestError::Mismatch);
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(DigestError::NoSupportedAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"{\"hello\": \"world\"}";

    #[test]
    fn rfc9530_examples() {
        // RFC 9530 §2 / RFC 9421 B.2: sha-256 and sha-512 of `{"hello": "world"}`.
        verify(
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            BODY,
        )
        .unwrap();
        verify(
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            BODY,
        )
        .unwrap();
    }

    #[test]
    fn l07_tampered_body_rejected() {
        let h = sha256(BODY);
        assert_eq!(
            verify(&h, b"{\"hello\": \"w0rld\"}"),
            Err(DigestError::Mismatch)
        );
    }

    #[test]
    fn unsupported_and_malformed() {
        assert_eq!(
            verify("md5=:AAAA:", BODY),
            Err(DigestError::NoSupportedAlgorithm)
        );
        assert_eq!(verify("sha-256=abc", BODY), Err(DigestError::Malformed));
        assert_eq!(verify("sha-256=:%%:", BODY), Err(DigestError::Malformed));
        // One good and one bad supported member: refused.
        let both = alloc::format!("{}, sha-512=:AAAA:", sha256(BODY));
        assert_eq!(verify(&both, BODY), Err(DigestError::Mismatch));
    }
}
