//! `application/x-www-form-urlencoded` bodies and queries (WHATWG URL §5.1), as the token
//! endpoint (`request_type=…`, digest §2.8(c)) and the consent page receive them.
//!
//! The decoding is the WHATWG one `url::form_urlencoded` implements: pairs split on `&`,
//! empty pairs skipped, name and value split at the first `=`, `+` is a space, `%XX`
//! decoded and malformed escapes kept literally, bytes that are not UTF-8 replaced with
//! U+FFFD. On top of it, a parameter given twice is refused rather than silently picking
//! one (an ambiguity a signed request should not carry).
//!
//! ```
//! use aauth_core::form::{FormError, parse_unique};
//!
//! let f = parse_unique(b"request_type=auth&scope=a+b&redirect_uri=http://127.0.0.1:1/cb")?;
//! assert_eq!(f[1], ("scope".into(), "a b".into()));
//! assert_eq!(parse_unique(b"a=1&a=2"), Err(FormError::Duplicate));
//! # Ok::<(), FormError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Most parameters accepted in one body; the token endpoint uses at most six.
pub const MAX_PAIRS: usize = 64;

/// Why a form was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// A parameter name appears twice.
    Duplicate,
    /// More than [`MAX_PAIRS`] parameters.
    TooMany,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate => f.write_str("Duplicate parameter"),
            Self::TooMany => write!(f, "More than {MAX_PAIRS} parameters"),
        }
    }
}

impl core::error::Error for FormError {}

/// Decodes every `name=value` pair, in order.
pub fn parse(input: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    input
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (decode(name), decode(value))
        })
}

/// Decodes the pairs and refuses a repeated name or more than [`MAX_PAIRS`] pairs.
///
/// # Errors
/// [`FormError`].
pub fn parse_unique(input: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in parse(input) {
        if out.len() == MAX_PAIRS {
            return Err(FormError::TooMany);
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(FormError::Duplicate);
        }
        out.push((name, value));
    }
    Ok(out)
}

/// `+` → space, `%XX` → the byte, anything else as is; then UTF-8 with replacement.
fn decode(input: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => bytes.push(b' '),
            b'%' => match (
                input.get(i + 1).and_then(hex),
                input.get(i + 2).and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    bytes.push(h << 4 | l);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use alloc::borrow::ToOwned;

    use super::*;

    fn pairs(input: &[u8]) -> Vec<(String, String)> {
        parse(input).collect()
    }

    #[test]
    fn whatwg_decoding() {
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            pairs(b"a=1&&b=&c&=d"),
            [p("a", "1"), p("b", ""), p("c", ""), p("", "d")]
        );
        assert_eq!(pairs(b"s=a+b%20c%2B"), [p("s", "a b c+")]);
        assert_eq!(pairs(b"x=%zz%4%"), [p("x", "%zz%4%")]);
        assert_eq!(pairs(b"k=v=w"), [p("k", "v=w")]);
        assert_eq!(pairs(b"u=%C3%A9%FF"), [p("u", "\u{e9}\u{fffd}")]);
        assert_eq!(
            pairs(b"r=http://127.0.0.1:8001/cb?x=1"),
            [p("r", "http://127.0.0.1:8001/cb?x=1")]
        );
    }

    #[test]
    fn duplicates_and_bounds() {
        assert_eq!(parse_unique(b"a=1&a=2"), Err(FormError::Duplicate));
        assert_eq!(
            parse_unique(b"a=1&%61=2"),
            Err(FormError::Duplicate),
            "after decoding"
        );
        let many: String = (0..=MAX_PAIRS).map(|i| alloc::format!("p{i}=1&")).collect();
        assert_eq!(parse_unique(many.as_bytes()), Err(FormError::TooMany));
        assert!(parse_unique(b"%%%&&&===").is_ok());
    }
}
