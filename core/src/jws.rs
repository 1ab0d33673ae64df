//! JWS Compact Serialization (RFC 7515 §7.1), the envelope of every AAuth token.
//!
//! Parsing is strict and bounded: exactly three segments, base64url without padding
//! (RFC 7515 §2), a JSON-object header whose `alg` is one of [`Alg`] (never `none` or a
//! MAC, RFC 8725 §3.1), no `crit` extensions (RFC 7515 §4.1.11: we understand none), and a
//! length cap checked before anything is decoded. The payload is kept as bytes; the
//! [`token`](crate::token) module gives it meaning.
//!
//! Signing writes the header exactly as the Python reference (PyJWT sorts header keys):
//! `{"alg":"EdDSA","kid":"…","typ":"…"}` (reference notes §6).
//!
//! ```
//! use aauth_core::jws::{UnverifiedJws, sign_compact};
//! use aauth_core::SigningKey;
//!
//! let key = SigningKey::from_seed(&[7; 32]);
//! let jws = sign_compact(Some("agent+jwt"), Some("key-1"), br#"{"iss":"https://a.example"}"#, &key);
//! assert!(jws.starts_with("eyJhbGciOiJFZERTQSIsImtpZCI6ImtleS0xIiwidHlwIjoiYWdlbnQrand0In0."));
//!
//! let parsed = UnverifiedJws::parse(&jws).unwrap();
//! assert_eq!(parsed.header().typ(), Some("agent+jwt"));
//! let verified = parsed.verify(&key.public_key()).unwrap();
//! assert_eq!(verified.payload(), br#"{"iss":"https://a.example"}"#);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

use crate::b64;
use crate::crypto::{Alg, PublicKey, SignatureCheck, Signer, VerifyError};
use crate::error::{ErrorCode, ProtocolError};

/// The longest compact JWS accepted, in bytes. AAuth tokens are well under 2 KiB (an
/// auth token with a nested `act` chain and an RSA `cnf.jwk` stays under 4 KiB); the cap
/// bounds base64 and JSON work on hostile input before any of it is done.
pub const MAX_COMPACT_LEN: usize = 16 * 1024;

/// The protected header of a JWS (RFC 7515 §4), reduced to what AAuth uses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwsHeader {
    alg: Alg,
    typ: Option<String>,
    kid: Option<String>,
}

impl JwsHeader {
    /// The signature algorithm (`alg`).
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The media type of the token (`typ`), e.g. `agent+jwt`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The key id (`kid`) naming the signing key in the issuer's JWKS.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// The header as it appears on the wire. Duplicate members are refused by the derived
/// deserializer (RFC 7515 §5.2 step 4 allows rejecting them; RFC 8725 §3.11 recommends it).
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// A compact JWS that has been parsed but whose signature has not been checked.
///
/// Everything it reports is attacker-controlled until [`UnverifiedJws::verify`] succeeds;
/// use `kid` only to choose which key to try.
#[derive(Clone, Debug)]
pub struct UnverifiedJws<'a> {
    signing_input: &'a str,
    header: JwsHeader,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> UnverifiedJws<'a> {
    /// Parses a compact JWS.
    ///
    /// # Errors
    /// [`JwsError`] when the input is too long, does not have exactly three segments, a
    /// segment is not strict base64url, the header is not a JSON object with a supported
    /// `alg`, or it carries `crit`.
    pub fn parse(compact: &'a str) -> Result<Self, JwsError> {
        if compact.len() > MAX_COMPACT_LEN {
            return Err(JwsError::TooLong {
                len: compact.len(),
                max: MAX_COMPACT_LEN,
            });
        }
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::SegmentCount);
        };
        // `h.len() + 1 + p.len()` is the byte offset of the second dot, a char boundary.
        let signing_input = compact
            .get(..h.len() + 1 + p.len())
            .ok_or(JwsError::SegmentCount)?;
        let header_bytes = b64::url_decode(h).ok_or(JwsError::Base64)?;
        let payload = b64::url_decode(p).ok_or(JwsError::Base64)?;
        let signature = b64::url_decode(s).ok_or(JwsError::Base64)?;
        let header = parse_header(&header_bytes)?;
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The (unverified) protected header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The (unverified) payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The JWS Signing Input (RFC 7515 §5.1 step 5): the first two segments and the dot
    /// between them, exactly as received.
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    /// Checks the signature with `key`, using the header's `alg`, which must fit the key
    /// (RFC 8725 §3.1: the key, not the token, decides the algorithm family).
    ///
    /// # Errors
    /// [`JwsError::AlgorithmMismatch`] when `alg` cannot be used with `key`,
    /// [`JwsError::BadSignature`] when the signature does not verify.
    pub fn verify(&self, key: &PublicKey) -> Result<VerifiedJws<'_>, JwsError> {
        self.signature_check(key)
            .run()
            .map_err(JwsError::from_verify)?;
        Ok(VerifiedJws {
            header: &self.header,
            payload: &self.payload,
        })
    }

    /// What [`verify`](Self::verify) checks, to run later or with another check
    /// ([`crypto::check_two`](crate::crypto::check_two)).
    pub(crate) fn signature_check<'k>(&'k self, key: &'k PublicKey) -> SignatureCheck<'k> {
        SignatureCheck {
            key,
            alg: Some(self.header.alg),
            msg: self.signing_input.as_bytes(),
            sig: &self.signature,
        }
    }
}

fn parse_header(bytes: &[u8]) -> Result<JwsHeader, JwsError> {
    // RFC 7515 §4: the header is a JSON object. serde's derived struct visitor would also
    // take a JSON array, so look at the first significant byte.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JwsError::Header);
    }
    let raw: RawHeader = serde_json::from_slice(bytes).map_err(|_| JwsError::Header)?;
    if raw.crit.is_some() {
        return Err(JwsError::Crit);
    }
    let alg = Alg::from_jose(&raw.alg).ok_or(JwsError::UnsupportedAlg)?;
    Ok(JwsHeader {
        alg,
        typ: raw.typ,
        kid: raw.kid,
    })
}

/// A JWS whose signature verified with the key it was checked against.
///
/// Only [`UnverifiedJws::verify`] creates one.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedJws<'a> {
    header: &'a JwsHeader,
    payload: &'a [u8],
}

impl<'a> VerifiedJws<'a> {
    /// The protected header.
    pub fn header(&self) -> &'a JwsHeader {
        self.header
    }

    /// The payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Signs `payload` (the exact JSON bytes of the claims) and returns the compact JWS.
///
/// The header is `{"alg":…,"kid":…,"typ":…}` with the keys sorted as PyJWT writes them;
/// `kid` and `typ` are omitted when `None` (RFC 8037 Appendix A.4 signs `{"alg":"EdDSA"}`). `alg` is [`Signer::jws_alg`].
///
/// ```
/// use aauth_core::jws::sign_compact;
/// use aauth_core::SigningKey;
/// let key = SigningKey::from_seed(&[1; 32]);
/// let jws = sign_compact(Some("resource+jwt"), None, b"{}", &key);
/// // header . payload . 64-byte Ed25519 signature (86 base64url characters)
/// let segs: Vec<&str> = jws.split('.').collect();
/// assert_eq!(segs[1], "e30");
/// assert_eq!(segs[2].len(), 86);
/// ```
pub fn sign_compact(
    typ: Option<&str>,
    kid: Option<&str>,
    payload: &[u8],
    signer: &dyn Signer,
) -> String {
    let mut header = String::with_capacity(64);
    header.push_str("{\"alg\":");
    push_json_str(&mut header, signer.jws_alg().as_str());
    if let Some(kid) = kid {
        header.push_str(",\"kid\":");
        push_json_str(&mut header, kid);
    }
    if let Some(typ) = typ {
        header.push_str(",\"typ\":");
        push_json_str(&mut header, typ);
    }
    header.push('}');

    let mut out = String::with_capacity(header.len() * 2 + payload.len() * 4 / 3 + 100);
    b64::url_encode_into(header.as_bytes(), &mut out);
    out.push('.');
    b64::url_encode_into(payload, &mut out);
    let sig = signer.sign(out.as_bytes());
    out.push('.');
    b64::url_encode_into(&sig, &mut out);
    out
}

/// Appends `s` as a JSON string the way Python's `json.dumps` writes it: serde_json's
/// escaping of `"`, `\\` and control characters is the same, and [`ascii_json`] adds
/// `ensure_ascii`.
fn push_json_str(out: &mut String, s: &str) {
    // Serializing a `str` cannot fail; the fallback keeps this total without a panic.
    let quoted = serde_json::to_string(s).unwrap_or_default();
    out.push_str(&ascii_json(&quoted));
}

/// Rewrites serialized JSON as Python's `json.dumps(ensure_ascii=True)` would have written
/// it: every character outside printable ASCII (U+0020..=U+007E) becomes `\uXXXX` (UTF-16
/// code units, lowercase hex). Such characters can only occur inside JSON strings, so the
/// rewrite keeps the document equivalent. PyJWT dumps both header and claims this way.
pub(crate) fn ascii_json(json: &str) -> String {
    if json.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return String::from(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut units = [0u16; 2];
    for c in json.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            for u in c.encode_utf16(&mut units).iter() {
                let _ = fmt::Write::write_fmt(&mut out, format_args!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// Why a compact JWS was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// The header's `alg` cannot be used with the verification key (RFC 8725 §3.1).
    AlgorithmMismatch,
    /// A segment is not base64url without padding (RFC 7515 §2).
    Base64,
    /// The signature does not verify. Deliberately opaque.
    BadSignature,
    /// The header carries `crit`; no extension is understood (RFC 7515 §4.1.11).
    Crit,
    /// The header is not a JSON object with a string `alg` (or has a duplicate member).
    Header,
    /// Not exactly three dot-separated segments (RFC 7515 §7.1).
    SegmentCount,
    /// The input is longer than the cap.
    TooLong {
        /// The input length.
        len: usize,
        /// The cap ([`MAX_COMPACT_LEN`]).
        max: usize,
    },
    /// `alg` is `none`, a MAC (`HS*`) or unknown (RFC 8725 §3.1).
    UnsupportedAlg,
}

impl JwsError {
    /// The JWS view of a failed signature check: the algorithm did not fit the key, or the
    /// signature is wrong (nothing more precise: a forger learns nothing from the error).
    pub(crate) fn from_verify(e: VerifyError) -> Self {
        match e {
            VerifyError::AlgorithmMismatch => Self::AlgorithmMismatch,
            _ => Self::BadSignature,
        }
    }
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlgorithmMismatch => f.write_str("JWS alg does not fit the key"),
            Self::Base64 => f.write_str("JWS segment is not unpadded base64url"),
            Self::BadSignature => f.write_str("JWS signature verification failed"),
            Self::Crit => f.write_str("JWS header carries unsupported `crit` extensions"),
            Self::Header => f.write_str("JWS header is not a valid JSON object"),
            Self::SegmentCount => f.write_str("compact JWS must have exactly three segments"),
            Self::TooLong { len, max } => {
                write!(f, "compact JWS is {len} bytes, over the {max}-byte cap")
            }
            Self::UnsupportedAlg => f.write_str("JWS alg is not supported"),
        }
    }
}

impl core::error::Error for JwsError {}

impl ProtocolError for JwsError {
    /// Always [`ErrorCode::InvalidToken`]: without a typed context the kind of token is not
    /// known. [`crate::token::TokenError`] refines this per token type.
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidToken
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;
    use crate::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[9; 32])
    }

    fn with_header(header: &str) -> String {
        let jws = sign_compact(Some("agent+jwt"), Some("k"), b"{}", &key());
        let rest = jws.split_once('.').unwrap().1;
        format!("{}.{rest}", b64::url_encode(header.as_bytes()))
    }

    #[test]
    fn round_trip_and_header_bytes() {
        let jws = sign_compact(Some("auth+jwt"), Some("auth-key-1"), b"{\"a\":1}", &key());
        let parsed = UnverifiedJws::parse(&jws).unwrap();
        let header = b64::url_decode(jws.split('.').next().unwrap()).unwrap();
        assert_eq!(
            header,
            br#"{"alg":"EdDSA","kid":"auth-key-1","typ":"auth+jwt"}"#
        );
        assert_eq!(parsed.header().alg(), Alg::EdDsa);
        assert_eq!(parsed.header().kid(), Some("auth-key-1"));
        assert_eq!(parsed.signing_input(), jws.rsplit_once('.').unwrap().0);
        assert_eq!(
            parsed.verify(&key().public_key()).unwrap().payload(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn refuses_other_keys_and_tampering() {
        let jws = sign_compact(Some("agent+jwt"), None, b"{}", &key());
        let other = SigningKey::from_seed(&[8; 32]).public_key();
        assert_eq!(
            UnverifiedJws::parse(&jws).unwrap().verify(&other).err(),
            Some(JwsError::BadSignature)
        );
        let (h, rest) = jws.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let tampered = format!("{h}.{}.{s}", b64::url_encode(b"{\"x\":1}"));
        let parsed = UnverifiedJws::parse(&tampered).unwrap();
        assert_eq!(
            parsed.verify(&key().public_key()).err(),
            Some(JwsError::BadSignature)
        );
    }

    #[test]
    fn refuses_bad_shapes() {
        let jws = sign_compact(Some("agent+jwt"), None, b"{}", &key());
        assert_eq!(
            UnverifiedJws::parse(&format!("{jws}.x")).err(),
            Some(JwsError::SegmentCount)
        );
        assert_eq!(
            UnverifiedJws::parse("a.b").err(),
            Some(JwsError::SegmentCount)
        );
        assert_eq!(
            UnverifiedJws::parse(&format!("{jws}=")).err(),
            Some(JwsError::Base64)
        );
        let long = "a".repeat(MAX_COMPACT_LEN + 1);
        assert_eq!(
            UnverifiedJws::parse(&long).err(),
            Some(JwsError::TooLong {
                len: MAX_COMPACT_LEN + 1,
                max: MAX_COMPACT_LEN
            })
        );
    }

    #[test]
    fn refuses_bad_headers() {
        let p = |h: &str| UnverifiedJws::parse(&with_header(h)).err();
        assert_eq!(p(r#"{"alg":"none"}"#), Some(JwsError::UnsupportedAlg));
        assert_eq!(p(r#"{"alg":"HS256"}"#), Some(JwsError::UnsupportedAlg));
        assert_eq!(p(r#"{"alg":"EdDSA","crit":["b64"]}"#), Some(JwsError::Crit));
        assert_eq!(p(r#"["EdDSA"]"#), Some(JwsError::Header));
        assert_eq!(
            p(r#"{"alg":"EdDSA","alg":"EdDSA"}"#),
            Some(JwsError::Header)
        );
        assert_eq!(p(r#"{"alg":1}"#), Some(JwsError::Header));
        assert_eq!(p(r#"{"typ":"agent+jwt"}"#), Some(JwsError::Header));
        assert_eq!(p(r#" {"alg":"EdDSA"}"#), None);
    }

    #[test]
    fn alg_must_fit_key() {
        let jws = with_header(r#"{"alg":"RS256","kid":"k","typ":"agent+jwt"}"#);
        let parsed = UnverifiedJws::parse(&jws).unwrap();
        assert_eq!(
            parsed.verify(&key().public_key()).err(),
            Some(JwsError::AlgorithmMismatch)
        );
    }

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\u{1}\u{7f}é😀");
        assert_eq!(s, r#""a\"b\\c\u0001\u007f\u00e9\ud83d\ude00""#);
    }
}
