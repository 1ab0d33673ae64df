//! Keys and signature algorithms.
//!
//! Verification keys come from JWKs (agents, resources, auth servers) and decide the
//! algorithm: an HTTP message signature is checked with the algorithm implied by the key
//! (RFC 9421 §3.3: `ed25519` for an OKP Ed25519 key), and a JWS `alg` must fit the key it is
//! checked with (RFC 8725 §3.1). Signing is Ed25519 only: it is the algorithm every party
//! must support (digest §5.1 L-11), and the only one the reference speaks.

mod ed25519;
#[cfg(test)]
mod forge;
#[cfg(feature = "p256")]
mod p256;
#[cfg(feature = "rsa")]
mod rsa;

use core::fmt;

pub use ed25519::SigningKey;

use crate::error::{ErrorCode, ProtocolError};
use crate::jwk::Jwk;

/// A JWS algorithm (RFC 7518 §3.1, RFC 9864).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// `EdDSA` with an Ed25519 key: what the early-2026 generation writes.
    EdDsa,
    /// `Ed25519`, the fully specified name of RFC 9864; accepted on input.
    Ed25519,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Keycloak realm keys).
    Rs256,
}

impl Alg {
    /// Parses a JOSE `alg` value. `none`, `HS*` and every other name are `None`: they are
    /// never accepted (RFC 8725 §3.1).
    pub fn from_jose(name: &str) -> Option<Self> {
        Some(match name {
            "EdDSA" => Self::EdDsa,
            "Ed25519" => Self::Ed25519,
            "ES256" => Self::Es256,
            "PS256" => Self::Ps256,
            "RS256" => Self::Rs256,
            _ => return None,
        })
    }

    /// The JOSE spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Ed25519 => "Ed25519",
            Self::Es256 => "ES256",
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWK's `alg` member does not fit its `kty`/`crv`.
    AlgMismatch,
    /// A required JWK member is missing or not valid base64url.
    InvalidMember(&'static str),
    /// The key bytes do not form a valid public key.
    InvalidKey,
    /// The JWK carries private-key members where a public key was expected.
    PrivateKeyMaterial,
    /// The key type or curve is not supported (or its feature is disabled).
    UnsupportedKeyType,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlgMismatch => f.write_str("the key's alg does not fit its key type"),
            Self::InvalidMember(m) => write!(f, "JWK member `{m}` is missing or malformed"),
            Self::InvalidKey => f.write_str("the JWK is not a valid public key"),
            Self::PrivateKeyMaterial => f.write_str("the JWK contains private key material"),
            Self::UnsupportedKeyType => f.write_str("unsupported key type"),
        }
    }
}

impl core::error::Error for KeyError {}

impl ProtocolError for KeyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AlgMismatch | Self::UnsupportedKeyType => ErrorCode::UnsupportedAlgorithm,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A signature did not verify, or its algorithm does not fit the key.
///
/// Deliberately opaque, like `signature::Error`: which step failed is not reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The algorithm cannot be used with this key.
    AlgorithmMismatch,
    /// The signature is not valid for the message and key.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlgorithmMismatch => f.write_str("algorithm does not fit the key"),
            Self::BadSignature => f.write_str("signature verification failed"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// A parsed public key, ready to verify signatures.
///
/// Parse once (from a JWK) and keep it: hosts cache these so the warm path does no point
/// decompression or JSON work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    inner: KeyInner,
    /// The JWK `alg` the key was published with, if any: it restricts which JWS `alg` may
    /// be used with the key.
    alg: Option<Alg>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    #[cfg(feature = "p256")]
    P256(::p256::ecdsa::VerifyingKey),
    #[cfg(feature = "rsa")]
    Rsa(::rsa::PublicKey),
}

impl PublicKey {
    /// Parses a public JWK: OKP/Ed25519, EC/P-256 (feature `p256`), RSA (feature `rsa`).
    ///
    /// # Errors
    /// [`KeyError`] when a member is missing or malformed, the key type is unsupported, the
    /// JWK contains private members, or its `alg` does not fit the key type.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if jwk.has_private_members() {
            return Err(KeyError::PrivateKeyMaterial);
        }
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(a) => Some(Alg::from_jose(a).ok_or(KeyError::AlgMismatch)?),
        };
        let inner = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => KeyInner::Ed25519(ed25519::from_jwk(jwk)?),
            #[cfg(feature = "p256")]
            ("EC", Some("P-256")) => KeyInner::P256(p256::from_jwk(jwk)?),
            #[cfg(feature = "rsa")]
            ("RSA", _) => KeyInner::Rsa(rsa::from_jwk(jwk)?),
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        let key = Self { inner, alg };
        if let Some(a) = alg
            && !key.fits(a)
        {
            return Err(KeyError::AlgMismatch);
        }
        Ok(key)
    }

    /// An Ed25519 key from its 32 raw bytes.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] if the bytes are not a valid curve point or the point has
    /// small order (a weak key).
    pub fn ed25519(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let k = ed25519::decode(bytes)?;
        Ok(Self {
            inner: KeyInner::Ed25519(k),
            alg: None,
        })
    }

    /// True when the JWS algorithm can be used with this key.
    pub fn fits(&self, alg: Alg) -> bool {
        let kind_ok = match (&self.inner, alg) {
            (KeyInner::Ed25519(_), Alg::EdDsa | Alg::Ed25519) => true,
            #[cfg(feature = "p256")]
            (KeyInner::P256(_), Alg::Es256) => true,
            #[cfg(feature = "rsa")]
            (KeyInner::Rsa(_), Alg::Rs256 | Alg::Ps256) => true,
            _ => false,
        };
        // A published `alg` pins the key to that algorithm; `EdDSA` and `Ed25519` name the
        // same algorithm for an Ed25519 key.
        let pinned_ok = match self.alg {
            None => true,
            Some(Alg::EdDsa | Alg::Ed25519) => matches!(alg, Alg::EdDsa | Alg::Ed25519),
            Some(p) => p == alg,
        };
        kind_ok && pinned_ok
    }

    /// Verifies a JWS signature (RFC 7515) made with `alg`.
    ///
    /// # Errors
    /// [`VerifyError::AlgorithmMismatch`] when `alg` does not fit the key,
    /// [`VerifyError::BadSignature`] when the signature is wrong.
    pub fn verify_jws(
        &self,
        alg: Alg,
        signing_input: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        if !self.fits(alg) {
            return Err(VerifyError::AlgorithmMismatch);
        }
        self.verify_raw(alg, signing_input, sig)
    }

    /// Verifies an HTTP message signature (RFC 9421 §3.3) with the algorithm the key
    /// implies: `ed25519`, `ecdsa-p256-sha256` or `rsa-pss-sha512`.
    ///
    /// # Errors
    /// [`VerifyError::BadSignature`] when the signature is wrong.
    pub fn verify_http(&self, base: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        match &self.inner {
            KeyInner::Ed25519(k) => ed25519::verify(k, base, sig),
            #[cfg(feature = "p256")]
            KeyInner::P256(k) => p256::verify_es256(k, base, sig),
            #[cfg(feature = "rsa")]
            KeyInner::Rsa(k) => rsa::verify_pss_sha512(k, base, sig),
        }
    }

    fn verify_raw(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        match (&self.inner, alg) {
            (KeyInner::Ed25519(k), _) => ed25519::verify(k, msg, sig),
            #[cfg(feature = "p256")]
            (KeyInner::P256(k), _) => p256::verify_es256(k, msg, sig),
            #[cfg(feature = "rsa")]
            (KeyInner::Rsa(k), Alg::Ps256) => rsa::verify_pss_sha256(k, msg, sig),
            #[cfg(feature = "rsa")]
            (KeyInner::Rsa(k), _) => rsa::verify_pkcs1_sha256(k, msg, sig),
        }
    }

    /// The Ed25519 public key bytes, if this is an Ed25519 key.
    pub fn ed25519_bytes(&self) -> Option<[u8; 32]> {
        match &self.inner {
            KeyInner::Ed25519(k) => Some(k.to_bytes()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

/// One signature to check: the key, the JWS `alg` it was made with (`None` for an HTTP
/// message signature, whose algorithm the key implies), the signed bytes and the signature.
#[derive(Clone, Copy)]
pub(crate) struct SignatureCheck<'a> {
    pub(crate) key: &'a PublicKey,
    pub(crate) alg: Option<Alg>,
    pub(crate) msg: &'a [u8],
    pub(crate) sig: &'a [u8],
}

impl SignatureCheck<'_> {
    /// [`PublicKey::verify_jws`] or [`PublicKey::verify_http`].
    pub(crate) fn run(&self) -> Result<(), VerifyError> {
        match self.alg {
            Some(alg) => self.key.verify_jws(alg, self.msg, self.sig),
            None => self.key.verify_http(self.msg, self.sig),
        }
    }

    /// The Ed25519 key, when this is an Ed25519 check the key's algorithm allows.
    #[cfg(feature = "fast")]
    fn ed25519(&self) -> Option<&ed25519_dalek::VerifyingKey> {
        match &self.key.inner {
            KeyInner::Ed25519(k) if self.alg.is_none_or(|a| self.key.fits(a)) => Some(k),
            _ => None,
        }
    }
}

/// Runs two signature checks, each with the result [`SignatureCheck::run`] gives it. With
/// the `fast` feature, two Ed25519 checks share one field inversion (`ed25519::verify_two`),
/// which makes a `scheme=jwt` request (the token's signature and the request's) 4 % fewer
/// instructions, up to 7 % less time where serial field arithmetic is slow next to AVX-512
/// IFMA; size-bound builds without it keep the code out (about 1 KiB of gzip in wasm).
pub(crate) fn check_two(
    a: &SignatureCheck<'_>,
    b: &SignatureCheck<'_>,
) -> [Result<(), VerifyError>; 2] {
    #[cfg(feature = "fast")]
    if let (Some(x), Some(y)) = (a.ed25519(), b.ed25519()) {
        return ed25519::verify_two((x, a.msg, a.sig), (y, b.msg, b.sig));
    }
    [a.run(), b.run()]
}

/// Produces signatures for requests and tokens. Implement it to keep private keys in an
/// HSM or KMS; [`SigningKey`] is the in-memory Ed25519 implementation.
pub trait Signer {
    /// The JWS `alg` this signer writes into token headers.
    fn jws_alg(&self) -> Alg;
    /// The public key as a JWK (with `kid` when the signer has one).
    fn public_jwk(&self) -> Jwk;
    /// The key id written into token headers. Override it when building the whole JWK
    /// costs more than returning the id.
    fn kid(&self) -> Option<alloc::string::String> {
        self.public_jwk().kid
    }
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> alloc::vec::Vec<u8>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check_two` gives each check what it gets alone: also when the two cannot share an
    /// inversion (an `alg` that does not fit the key, a key that is not Ed25519).
    #[test]
    fn two_checks_give_what_each_gives_alone() {
        let signer = SigningKey::from_seed(&[9; 32]);
        let key = signer.public_key();
        let sig = signer.sign(b"m");
        let http = SignatureCheck {
            key: &key,
            alg: None,
            msg: b"m",
            sig: &sig,
        };
        let jws = SignatureCheck {
            alg: Some(Alg::EdDsa),
            ..http
        };
        let mismatch = SignatureCheck {
            alg: Some(Alg::Es256),
            ..http
        };
        let wrong = SignatureCheck { msg: b"n", ..http };
        assert_eq!(http.run(), Ok(()));
        assert_eq!(jws.run(), Ok(()));
        assert_eq!(mismatch.run(), Err(VerifyError::AlgorithmMismatch));
        assert_eq!(wrong.run(), Err(VerifyError::BadSignature));
        #[allow(unused_mut)]
        let mut checks = alloc::vec![http, jws, mismatch, wrong];
        #[cfg(feature = "p256")]
        let p256 = {
            // RFC 7515 Appendix A.3's public key.
            let mut jwk = Jwk::default();
            jwk.kty = "EC".into();
            jwk.crv = Some("P-256".into());
            jwk.x = Some("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into());
            jwk.y = Some("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into());
            PublicKey::from_jwk(&jwk).unwrap()
        };
        #[cfg(feature = "p256")]
        checks.push(SignatureCheck {
            key: &p256,
            alg: Some(Alg::Es256),
            ..http
        });
        for a in &checks {
            for b in &checks {
                assert_eq!(check_two(a, b), [a.run(), b.run()]);
            }
        }
    }
}
