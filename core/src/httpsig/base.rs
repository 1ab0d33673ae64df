//! The signature base (RFC 9421 §2.5), byte-exact.

use alloc::vec::Vec;

use super::component::Component;
use super::params::SignatureParams;
use super::{BaseMode, Overrides, SignatureError};
use crate::request::RequestParts;

/// Builds the signature base for `params` over `req` (RFC 9421 §2.5): one line
/// `"<name>": <value>` per covered component, then `"@signature-params": <params>` with no
/// trailing newline.
///
/// ```
/// use aauth_core::httpsig::{signature_base, Component, SignatureParams};
/// use aauth_core::RequestParts;
///
/// let headers = [("signature-key", br#"sig1=(scheme=hwk kty="OKP" crv="Ed25519" x="AA")"#.as_slice())];
/// let req = RequestParts::new("GET", "127.0.0.1:8002", "/data", &headers);
/// let params = SignatureParams::new(
///     vec![Component::Method, Component::Field("signature-key".into())],
///     1_768_785_919,
/// );
/// let base = signature_base(&req, &params).unwrap();
/// assert_eq!(
///     String::from_utf8(base).unwrap(),
///     "\"@method\": GET\n\"signature-key\": sig1=(scheme=hwk kty=\"OKP\" crv=\"Ed25519\" x=\"AA\")\n\
///      \"@signature-params\": (\"@method\" \"signature-key\");created=1768785919"
/// );
/// ```
///
/// # Errors
/// [`SignatureError::MissingField`] when a covered header field is absent.
pub fn signature_base(
    req: &RequestParts<'_>,
    params: &SignatureParams,
) -> Result<Vec<u8>, SignatureError> {
    let serialized = params.serialize()?;
    build(
        req,
        params,
        &serialized,
        &Overrides::default(),
        BaseMode::Rfc9421,
    )
}

pub(super) fn build(
    req: &RequestParts<'_>,
    params: &SignatureParams,
    serialized: &str,
    overrides: &Overrides<'_>,
    mode: BaseMode,
) -> Result<Vec<u8>, SignatureError> {
    let mut out = Vec::with_capacity(256 + req.header("signature-key").map_or(0, <[u8]>::len));
    for (i, c) in params.components.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.push(b'"');
        out.extend_from_slice(c.name().as_bytes());
        out.extend_from_slice(b"\": ");
        let overridden = match c {
            Component::Field(n) if n == "signature-key" => overrides.signature_key,
            Component::Field(n) if n == "content-digest" => overrides.content_digest,
            _ => None,
        };
        match overridden {
            Some(v) => out.extend_from_slice(v),
            None => out.extend_from_slice(&c.value(req)?),
        }
    }
    match mode {
        BaseMode::Rfc9421 => {
            if !params.components.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(b"\"@signature-params\": ");
            out.extend_from_slice(serialized.as_bytes());
        }
        // The pre-0.1.0 demo logs (digest §2.11 D1): a trailing newline and no
        // `@signature-params` line, so `created` is not signed.
        BaseMode::LegacyDemoJan2026 => out.push(b'\n'),
    }
    Ok(out)
}
