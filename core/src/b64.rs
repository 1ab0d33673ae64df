//! The two base64 alphabets of the protocol.
//!
//! JOSE (JWS segments, JWK members, thumbprints) uses base64url without padding (RFC 7515 §2).
//! Structured-field byte sequences (`Signature`, `Content-Digest`) use standard base64 with
//! padding (RFC 8941 §3.3.5); the 0.1.0 reference writes `Signature` in base64url instead
//! (digest §2.11 D2), so the signature decoder accepts both.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const URL_NO_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const STD_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url without padding (JOSE).
pub(crate) fn url_encode(bytes: &[u8]) -> String {
    URL_NO_PAD.encode(bytes)
}

/// base64url without padding, strict: padding is refused (RFC 7515 §2).
pub(crate) fn url_decode(s: &str) -> Option<Vec<u8>> {
    URL_NO_PAD.decode(s).ok()
}

/// Appends base64url without padding to `out`.
pub(crate) fn url_encode_into(bytes: &[u8], out: &mut String) {
    URL_NO_PAD.encode_string(bytes, out);
}

/// Standard base64 with padding (structured-field byte sequences).
pub(crate) fn std_encode(bytes: &[u8]) -> String {
    STD_PAD.encode(bytes)
}

/// Standard base64; padding optional on input (RFC 8941 §3.3.5 allows parsers to be lenient).
pub(crate) fn std_decode(s: &str) -> Option<Vec<u8>> {
    STD_PAD.decode(s).ok()
}

/// Decodes a byte sequence written in either alphabet. A value mixing `+`/`/` with `-`/`_`
/// is refused.
pub(crate) fn any_decode(s: &str) -> Option<Vec<u8>> {
    if s.bytes().any(|b| b == b'-' || b == b'_') {
        URL_LENIENT.decode(s).ok()
    } else {
        STD_PAD.decode(s).ok()
    }
}

/// Decodes into a fixed-size array, without allocating.
pub(crate) fn url_decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    // A base64url string of exactly N bytes has this many characters without padding.
    if s.len() != (N * 4).div_ceil(3) {
        return None;
    }
    match URL_NO_PAD.decode_slice(s, &mut out) {
        Ok(n) if n == N => Some(out),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_alphabets() {
        let bytes = [0xfbu8, 0xff, 0xfe];
        assert_eq!(url_encode(&bytes), "-__-");
        assert_eq!(std_encode(&bytes), "+//+");
        assert_eq!(any_decode("-__-").unwrap(), bytes);
        assert_eq!(any_decode("+//+").unwrap(), bytes);
        assert!(any_decode("+/_-").is_none());
        assert!(url_decode("AA==").is_none());
        assert_eq!(std_decode("AA").unwrap(), [0]);
    }

    #[test]
    fn fixed_arrays() {
        let x = "Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU";
        assert!(url_decode_array::<32>(x).is_some());
        assert!(url_decode_array::<32>(&x[1..]).is_none());
        assert!(url_decode_array::<31>(x).is_none());
    }
}
