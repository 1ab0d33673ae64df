//! Ed25519 (RFC 8032) through ed25519-dalek, and Ed25519 JWKs (RFC 8037).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use zeroize::Zeroizing;

use super::{Alg, KeyError, Signer, VerifyError};
use crate::b64;
use crate::jwk::Jwk;

pub(super) fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, KeyError> {
    let x = jwk.x.as_deref().ok_or(KeyError::InvalidMember("x"))?;
    let bytes = b64::url_decode_array::<32>(x).ok_or(KeyError::InvalidMember("x"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidKey)
}

pub(super) fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    let sig = Signature::from_slice(sig).map_err(|_| VerifyError::BadSignature)?;
    // `verify_strict` also refuses weak (small-order) keys and non-canonical points, which
    // RFC 8032 §5.1.7 leaves to the verifier; honest signers never produce them.
    key.verify_strict(msg, &sig)
        .map_err(|_| VerifyError::BadSignature)
}

/// An Ed25519 private key held in memory.
///
/// Not `Clone`; `Debug` prints no secret; the seed is zeroized on drop.
///
/// ```
/// use aauth_core::{Signer, SigningKey};
/// let key = SigningKey::from_seed(&[7u8; 32]).with_kid("key-1");
/// let jwk = key.public_jwk();
/// assert_eq!(jwk.kty, "OKP");
/// assert_eq!(jwk.kid.as_deref(), Some("key-1"));
/// assert_eq!(key.sign(b"hello").len(), 64);
/// ```
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: Option<String>,
}

impl SigningKey {
    /// A key from its 32-byte seed (RFC 8032 private key; the JWK `d` member of RFC 8037).
    /// The caller supplies the entropy: hosts draw it from the OS.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
            kid: None,
        }
    }

    /// A key from an OKP JWK with `d` (RFC 8037 §2).
    ///
    /// # Errors
    /// [`KeyError`] when the JWK is not Ed25519, `d` is malformed, or `x` does not match `d`.
    pub fn from_private_jwk(jwk: &Jwk, d: &str) -> Result<Self, KeyError> {
        if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
            return Err(KeyError::UnsupportedKeyType);
        }
        let seed =
            Zeroizing::new(b64::url_decode_array::<32>(d).ok_or(KeyError::InvalidMember("d"))?);
        let key = Self::from_seed(&seed);
        if let Some(x) = &jwk.x
            && *x != b64::url_encode(key.key.verifying_key().as_bytes())
        {
            return Err(KeyError::InvalidKey);
        }
        Ok(Self {
            kid: jwk.kid.clone(),
            ..key
        })
    }

    /// Sets the `kid` published with the public key.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The 32-byte seed, for persisting the key. Handle with care.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The RFC 8037 `d` member: base64url of the seed.
    pub fn private_d(&self) -> Zeroizing<String> {
        Zeroizing::new(b64::url_encode(&self.key.to_bytes()))
    }

    /// The 32-byte public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public half, ready to verify.
    pub fn public_key(&self) -> super::PublicKey {
        super::PublicKey {
            inner: super::KeyInner::Ed25519(self.key.verifying_key()),
            alg: None,
        }
    }
}

impl Signer for SigningKey {
    fn jws_alg(&self) -> Alg {
        Alg::EdDsa
    }

    fn public_jwk(&self) -> Jwk {
        Jwk::ed25519(&self.public_bytes(), self.kid.clone())
    }

    fn kid(&self) -> Option<String> {
        self.kid.clone()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).to_bytes().to_vec()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("key", &"[secret key elided]")
            .finish()
    }
}
