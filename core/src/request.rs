//! Borrowed, framework-free views of an HTTP request.

/// A request as the core sees it: borrowed method, target, headers and body.
///
/// `authority` is the canonical authority the host was configured with (digest §5.1 L-10):
/// a verifier never takes it from `Host`, `Forwarded` or `X-Forwarded-Host`. A signer passes
/// the authority it is sending to.
///
/// ```
/// use aauth_core::RequestParts;
/// let headers = [("content-type", b"application/json".as_slice())];
/// let req = RequestParts::new("POST", "127.0.0.1:8002", "/data?x=1", &headers)
///     .with_body(b"{}");
/// assert_eq!(req.path(), "/data");
/// assert_eq!(req.query(), Some("x=1"));
/// assert_eq!(req.header("Content-Type"), Some(b"application/json".as_slice()));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// `http` or `https`; used only by `@scheme` and `@target-uri`.
    pub scheme: &'a str,
    /// The canonical authority, `host[:port]`.
    pub authority: &'a str,
    /// The origin-form request target: path plus optional `?query`.
    pub target: &'a str,
    /// Header fields in arrival order; names compare case-insensitively.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body, if the request has one. `Some(&[])` is an empty body that was sent.
    pub body: Option<&'a [u8]>,
}

impl<'a> RequestParts<'a> {
    /// A request without body, with scheme `https`.
    pub const fn new(
        method: &'a str,
        authority: &'a str,
        target: &'a str,
        headers: &'a [(&'a str, &'a [u8])],
    ) -> Self {
        Self {
            method,
            scheme: "https",
            authority,
            target,
            headers,
            body: None,
        }
    }

    /// Sets the body.
    #[must_use]
    pub const fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }

    /// Sets the scheme (`http` for loopback development).
    #[must_use]
    pub const fn with_scheme(mut self, scheme: &'a str) -> Self {
        self.scheme = scheme;
        self
    }

    /// The path part of the target; `/` when empty (RFC 9421 §2.2.6).
    pub fn path(&self) -> &'a str {
        let end = self.target.find('?').unwrap_or(self.target.len());
        let p = &self.target[..end];
        if p.is_empty() { "/" } else { p }
    }

    /// The query after `?`, or `None` when the target has no query or an empty one.
    pub fn query(&self) -> Option<&'a str> {
        let q = &self.target[self.target.find('?')? + 1..];
        (!q.is_empty()).then_some(q)
    }

    /// The first header field with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// How many header fields carry this name.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// True when the request carries a non-empty body. The reference signs `b""` as "no
    /// body" (reference notes §2), and so do we.
    pub fn has_body(&self) -> bool {
        self.body.is_some_and(|b| !b.is_empty())
    }
}
