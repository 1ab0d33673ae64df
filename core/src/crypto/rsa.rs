//! RSA verification (RS256, PS256, and RFC 9421 `rsa-pss-sha512`) through the `rsa` crate.
//!
//! Verification only: AAuth parties sign with Ed25519 (digest §5.1 L-11); RSA keys appear
//! as the realm keys of third-party auth servers (reference notes §6, Keycloak RS256).

use rsa::signature::Verifier as _;
use rsa::{BoxedUint, PublicKey};
use sha2::{Sha256, Sha512};

use super::{KeyError, VerifyError};
use crate::b64;
use crate::jwk::Jwk;

/// Smallest modulus accepted: RFC 7518 §3.3 and §3.5 require "a key of size 2048 bits or
/// larger" for RS256 and PS256.
const MIN_MODULUS_BITS: usize = 2048;
/// Largest modulus accepted; bounds the work an attacker-chosen key can cause.
const MAX_MODULUS_BITS: usize = 8192;

pub(super) fn from_jwk(jwk: &Jwk) -> Result<PublicKey, KeyError> {
    let n = member(jwk.n.as_deref(), "n")?;
    let e = member(jwk.e.as_deref(), "e")?;
    // RFC 7518 §6.3.1.1: `n` is the unsigned big-endian modulus; a leading zero octet is
    // not allowed, which also keeps the bit length honest.
    if n.first() == Some(&0) {
        return Err(KeyError::InvalidMember("n"));
    }
    if e.first() == Some(&0) {
        return Err(KeyError::InvalidMember("e"));
    }
    let n = BoxedUint::from_be_slice_vartime(&n);
    let e = BoxedUint::from_be_slice_vartime(&e);
    PublicKey::new_with_size_limits(n, e, MIN_MODULUS_BITS..=MAX_MODULUS_BITS)
        .map_err(|_| KeyError::InvalidKey)
}

fn member(value: Option<&str>, name: &'static str) -> Result<alloc::vec::Vec<u8>, KeyError> {
    let v = value.ok_or(KeyError::InvalidMember(name))?;
    match b64::url_decode(v) {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(KeyError::InvalidMember(name)),
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWS `RS256`, RFC 7518 §3.3).
pub(super) fn verify_pkcs1_sha256(
    key: &PublicKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| VerifyError::BadSignature)?;
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
        .verify(msg, &sig)
        .map_err(|_| VerifyError::BadSignature)
}

/// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (JWS `PS256`, RFC 7518 §3.5).
pub(super) fn verify_pss_sha256(
    key: &PublicKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    let sig = rsa::pss::Signature::try_from(sig).map_err(|_| VerifyError::BadSignature)?;
    rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
        .verify(msg, &sig)
        .map_err(|_| VerifyError::BadSignature)
}

/// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt (RFC 9421 §3.3.1
/// `rsa-pss-sha512`).
pub(super) fn verify_pss_sha512(
    key: &PublicKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    let sig = rsa::pss::Signature::try_from(sig).map_err(|_| VerifyError::BadSignature)?;
    rsa::pss::VerifyingKey::<Sha512>::new(key.clone())
        .verify(msg, &sig)
        .map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(n: &str, e: &str) -> Jwk {
        let mut j = Jwk::default();
        j.kty = "RSA".into();
        j.n = Some(n.into());
        j.e = Some(e.into());
        j
    }

    #[test]
    fn small_modulus_is_refused() {
        // 1024-bit odd modulus (all ones) with e = 65537.
        let n = b64::url_encode(&[0xff; 128]);
        assert_eq!(from_jwk(&jwk(&n, "AQAB")).err(), Some(KeyError::InvalidKey));
    }

    #[test]
    fn malformed_members_are_refused() {
        assert_eq!(
            from_jwk(&jwk("", "AQAB")).err(),
            Some(KeyError::InvalidMember("n"))
        );
        assert_eq!(
            from_jwk(&jwk("AA==", "AQAB")).err(),
            Some(KeyError::InvalidMember("n"))
        );
        let n = b64::url_encode(&[0xff; 256]);
        assert_eq!(
            from_jwk(&jwk(&n, "AAEAAQ")).err(),
            Some(KeyError::InvalidMember("e"))
        );
        assert!(from_jwk(&jwk(&n, "AQAB")).is_ok());
    }
}
