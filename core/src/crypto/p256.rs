//! ECDSA P-256 verification (JWS `ES256`, RFC 7518 §3.4; RFC 9421 `ecdsa-p256-sha256`).

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

use super::{KeyError, VerifyError};
use crate::b64;
use crate::jwk::Jwk;

pub(super) fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, KeyError> {
    if jwk.crv.as_deref() != Some("P-256") {
        return Err(KeyError::UnsupportedKeyType);
    }
    // RFC 7518 §6.2.1.2: `x` and `y` are the full-length (32-octet) coordinates.
    let x = b64::url_decode_array::<32>(jwk.x.as_deref().ok_or(KeyError::InvalidMember("x"))?)
        .ok_or(KeyError::InvalidMember("x"))?;
    let y = b64::url_decode_array::<32>(jwk.y.as_deref().ok_or(KeyError::InvalidMember("y"))?)
        .ok_or(KeyError::InvalidMember("y"))?;
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(&x);
    sec1[33..].copy_from_slice(&y);
    // Decoding checks that the point is on the curve and not the identity.
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| KeyError::InvalidKey)
}

/// Verifies a JOSE ECDSA signature: the 64-byte `r || s` form of RFC 7518 §3.4, not DER.
pub(super) fn verify_es256(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    if sig.len() != 64 {
        return Err(VerifyError::BadSignature);
    }
    let sig = Signature::from_slice(sig).map_err(|_| VerifyError::BadSignature)?;
    key.verify(msg, &sig).map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(x: &str, y: &str) -> Jwk {
        let mut j = Jwk::default();
        j.kty = "EC".into();
        j.crv = Some("P-256".into());
        j.x = Some(x.into());
        j.y = Some(y.into());
        j
    }

    // RFC 7515 Appendix A.3 public key.
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn parses_rfc7515_key_and_refuses_bad_points() {
        assert!(from_jwk(&jwk(X, Y)).is_ok());
        assert_eq!(from_jwk(&jwk(X, X)).err(), Some(KeyError::InvalidKey));
        assert_eq!(
            from_jwk(&jwk(&X[1..], Y)).err(),
            Some(KeyError::InvalidMember("x"))
        );
    }

    #[test]
    fn wrong_signature_length_is_refused() {
        let k = from_jwk(&jwk(X, Y)).unwrap();
        assert_eq!(
            verify_es256(&k, b"m", &[1; 63]),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_es256(&k, b"m", &[1; 64]),
            Err(VerifyError::BadSignature)
        );
    }
}
