//! Covered components (RFC 9421 §2): derived components and header fields.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::SignatureError;
use crate::request::RequestParts;

/// A component identifier, as listed in `Signature-Input`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// `@authority` (§2.2.3): the canonical authority, lower-cased.
    Authority,
    /// A header field, by lower-case name (§2.1).
    Field(alloc::string::String),
    /// `@method` (§2.2.1).
    Method,
    /// `@path` (§2.2.6).
    Path,
    /// `@query` (§2.2.7): `?` and the query.
    Query,
    /// `@request-target` (§2.2.5): the origin-form target.
    RequestTarget,
    /// `@scheme` (§2.2.4).
    Scheme,
    /// `@target-uri` (§2.2.2).
    TargetUri,
}

impl Component {
    /// Parses a component name from `Signature-Input`. Derived names outside the request
    /// side of RFC 9421 (`@status`, `@query-param`, …) and header names that are not
    /// lower-case field names are refused.
    ///
    /// # Errors
    /// [`SignatureError::UnsupportedComponent`].
    pub fn parse(name: &str) -> Result<Self, SignatureError> {
        match Self::derived(name) {
            Some(c) => Ok(c),
            None if is_field_name(name) => Ok(Self::Field(name.into())),
            None => Err(SignatureError::UnsupportedComponent),
        }
    }

    /// [`parse`](Self::parse) of a name the caller owns: a header field keeps it rather
    /// than copying it (`Signature-Input` is parsed on every request).
    pub(crate) fn parse_owned(name: alloc::string::String) -> Result<Self, SignatureError> {
        match Self::derived(&name) {
            Some(c) => Ok(c),
            None if is_field_name(&name) => Ok(Self::Field(name)),
            None => Err(SignatureError::UnsupportedComponent),
        }
    }

    /// The derived component named `name`, if it is one this crate supports.
    fn derived(name: &str) -> Option<Self> {
        Some(match name {
            "@method" => Self::Method,
            "@authority" => Self::Authority,
            "@path" => Self::Path,
            "@query" => Self::Query,
            "@target-uri" => Self::TargetUri,
            "@scheme" => Self::Scheme,
            "@request-target" => Self::RequestTarget,
            _ => return None,
        })
    }

    /// The identifier as written in `Signature-Input` and the signature base.
    pub fn name(&self) -> &str {
        match self {
            Self::Method => "@method",
            Self::Authority => "@authority",
            Self::Path => "@path",
            Self::Query => "@query",
            Self::TargetUri => "@target-uri",
            Self::Scheme => "@scheme",
            Self::RequestTarget => "@request-target",
            Self::Field(n) => n,
        }
    }

    /// The component value for `req` (RFC 9421 §2.1, §2.2).
    ///
    /// # Errors
    /// [`SignatureError::MissingField`] when a covered header field is absent.
    pub fn value<'r>(&self, req: &RequestParts<'r>) -> Result<Cow<'r, [u8]>, SignatureError> {
        Ok(match self {
            Self::Method => Cow::Borrowed(req.method.as_bytes()),
            Self::Authority => lower(req.authority),
            Self::Path => Cow::Borrowed(req.path().as_bytes()),
            // §2.2.7: an absent or empty query is `?`.
            Self::Query => {
                // A non-empty query follows its `?` in the target: borrowed as `?…`.
                match (req.query(), req.target.find('?')) {
                    (Some(_), Some(i)) => Cow::Borrowed(&req.target.as_bytes()[i..]),
                    _ => Cow::Borrowed(b"?"),
                }
            }
            Self::TargetUri => {
                let mut v = Vec::new();
                v.extend_from_slice(req.scheme.to_ascii_lowercase().as_bytes());
                v.extend_from_slice(b"://");
                v.extend_from_slice(req.authority.to_ascii_lowercase().as_bytes());
                v.extend_from_slice(req.target.as_bytes());
                Cow::Owned(v)
            }
            Self::Scheme => lower(req.scheme),
            Self::RequestTarget => Cow::Borrowed(req.target.as_bytes()),
            Self::Field(name) => field_value(req, name)?,
        })
    }
}

fn lower(s: &str) -> Cow<'_, [u8]> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase().into_bytes())
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

fn is_field_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// §2.1: leading and trailing whitespace trimmed; several field lines joined with `, `.
fn field_value<'r>(req: &RequestParts<'r>, name: &str) -> Result<Cow<'r, [u8]>, SignatureError> {
    let mut lines = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_ascii());
    let first = lines.next().ok_or(SignatureError::MissingField)?;
    let Some(second) = lines.next() else {
        return Ok(Cow::Borrowed(first));
    };
    let mut v = first.to_vec();
    for line in core::iter::once(second).chain(lines) {
        v.extend_from_slice(b", ");
        v.extend_from_slice(line);
    }
    Ok(Cow::Owned(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values() {
        let headers = [("X-A", b" one ".as_slice()), ("x-a", b"two".as_slice())];
        let req = RequestParts::new("GET", "Example.COM:8443", "/p%20q?a=1&b", &headers);
        let v = |c: Component| c.value(&req).unwrap().into_owned();
        assert_eq!(v(Component::Authority), b"example.com:8443");
        assert_eq!(v(Component::Path), b"/p%20q");
        assert_eq!(v(Component::Query), b"?a=1&b");
        assert_eq!(v(Component::RequestTarget), b"/p%20q?a=1&b");
        assert_eq!(
            v(Component::TargetUri),
            b"https://example.com:8443/p%20q?a=1&b"
        );
        assert_eq!(v(Component::Scheme), b"https");
        // §2.2.7: an absent or empty query is `?`.
        for target in ["/p", "/p?"] {
            let req = RequestParts::new("GET", "example.com", target, &[]);
            assert_eq!(*Component::Query.value(&req).unwrap(), *b"?");
        }
        assert_eq!(v(Component::Field("x-a".into())), b"one, two");
        assert_eq!(
            Component::Field("x-b".into()).value(&req),
            Err(SignatureError::MissingField)
        );
    }

    #[test]
    fn names() {
        for n in [
            "@method",
            "@authority",
            "@path",
            "@query",
            "@target-uri",
            "@scheme",
            "@request-target",
            "content-digest",
        ] {
            assert_eq!(Component::parse(n).unwrap().name(), n);
        }
        for bad in ["@status", "@query-param", "Content-Type", "", "a b"] {
            assert!(Component::parse(bad).is_err(), "{bad}");
        }
    }
}
