//! The `Signature-Key` request header: which key verifies the request's HTTP message
//! signature, and where to find it.
//!
//! Two syntaxes are parsed (digest §2.3, §3.1):
//!
//! - the **legacy** one the reference 0.1.0 and the demo write, which is not RFC 8941
//!   (digest §7 item 1): `sig1=(scheme=jwks id="http://127.0.0.1:8001" kid="key-1")`;
//! - the **structured-field item** syntax of later Signature-Key drafts (SK §3):
//!   `sig1=jwt;jwt="eyJ…"`, `sig=hwk;kty="OKP";crv="Ed25519";x="…"`,
//!   `sig=jwks_uri;id="…";dwk="…";kid="…"`.
//!
//! Both end in the same [`KeyScheme`]. Headers are built in the legacy syntax, byte for byte
//! as the reference writes them ([`KeyScheme::to_header`]).
//!
//! The header must hold exactly one member (digest §5.1 L-02); its label must equal the
//! `Signature-Input` label (L-03, [`SignatureKey::check_label`]). The raw field value is
//! kept in [`SignatureKey::raw`]: the `signature-key` covered component is the header
//! exactly as sent (digest §2.4).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::b64;
use crate::error::{ErrorCode, ProtocolError};
use crate::jwk::Jwk;
use crate::metadata::well_known_url;
use crate::sf::{self, BareItem, Member, Parser};

/// Longest `Signature-Key` value accepted. A `jwt` scheme carries a whole token, so the cap
/// is generous; it bounds the work done on hostile input.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// Most parameters accepted in one member; the duplicate check is quadratic in this.
const MAX_PARAMS: usize = 32;

/// A parsed `Signature-Key` header value.
///
/// ```
/// use aauth_core::signature_key::{JwksRef, KeyScheme, SignatureKey};
///
/// let value = r#"sig1=(scheme=jwks id="http://127.0.0.1:8001" kid="key-1" well-known="aauth-agent")"#;
/// let sk = SignatureKey::parse(value)?;
/// assert_eq!(sk.label, "sig1");
/// assert_eq!(sk.raw, value);
/// let KeyScheme::Jwks(JwksRef::Id { id, kid, well_known }) = &sk.scheme else { panic!() };
/// assert_eq!((id.as_str(), kid.as_str()), ("http://127.0.0.1:8001", "key-1"));
/// assert_eq!(well_known.as_deref(), Some("aauth-agent"));
/// // Building writes the reference's bytes back.
/// assert_eq!(sk.scheme.to_header("sig1")?, value);
/// # Ok::<(), aauth_core::signature_key::SignatureKeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureKey<'a> {
    /// The dictionary member name: the signature label (`sig1`).
    pub label: &'a str,
    /// The key scheme and its parameters.
    pub scheme: KeyScheme,
    /// The syntax the header was written in.
    pub syntax: Syntax,
    /// The field value as received, without surrounding spaces and tabs: the value of the
    /// `signature-key` covered component (RFC 9421 §2.1, digest §2.4).
    pub raw: &'a str,
}

/// The two `Signature-Key` syntaxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Syntax {
    /// `label=(scheme=… key="value" …)`: the reference 0.1.0 and demo (digest §2.3).
    Legacy,
    /// `label=scheme;key="value";…`: an RFC 8941 dictionary item (SK §3, digest §3.1).
    StructuredField,
}

/// How the verification key is conveyed (digest §2.3 table).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyScheme {
    /// `scheme=hwk`: the public key inline, as JWK members (pseudonymous).
    Hwk(Jwk),
    /// `scheme=jwks`: a key in a published JWK Set, selected by `kid`.
    Jwks(JwksRef),
    /// `scheme=jwt`: a JWT whose `cnf.jwk` is the key; the JWT must be validated first
    /// (L-15).
    Jwt {
        /// The compact JWT.
        jwt: String,
    },
    /// `scheme=x509`: a certificate chain by URL.
    X509 {
        /// URL of the PEM certificate chain.
        x5u: String,
        /// BASE64URL(SHA-256(DER(leaf))). A structured-field byte sequence is converted to
        /// this form on parse.
        x5t: String,
    },
}

/// Where a `scheme=jwks` key set is published (digest §2.3, L§10.7).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksRef {
    /// Mode 2: the signer's identifier, optionally with a well-known metadata name.
    /// The structured-field scheme `jwks_uri` (`id`, `dwk`, `kid`) maps here with
    /// `well_known = Some(dwk)`.
    Id {
        /// The signer's identifier (an HTTPS URL).
        id: String,
        /// The key id in the set.
        kid: String,
        /// Metadata document name under `{id}/.well-known/`, a single path segment.
        well_known: Option<String>,
    },
    /// Mode 1: the URL of the JWK Set itself.
    Url {
        /// The JWKS URL.
        jwks: String,
        /// The key id in the set.
        kid: String,
    },
}

/// What to fetch first to resolve a [`JwksRef`] (L-13).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksLocation<'a> {
    /// Fetch this URL as a JWK Set.
    Jwks(&'a str),
    /// Fetch this metadata document and follow its `jwks_uri`.
    Metadata(String),
}

/// Why a `Signature-Key` value was refused or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureKeyError {
    /// The same parameter appears twice.
    DuplicateParameter,
    /// A parameter that must not appear with this scheme or mode is present (L-12, L-16).
    ForbiddenParameter(&'static str),
    /// The `well-known` / `dwk` value is not a single safe path segment.
    InvalidWellKnown,
    /// A parameter has the wrong type or a value that cannot be used.
    InvalidValue(&'static str),
    /// `scheme=jwks` with both `jwks` and `id`, or with neither (L-12).
    JwksMode,
    /// The label differs from the `Signature-Input` label (L-03).
    LabelMismatch,
    /// The value does not follow either syntax.
    Malformed,
    /// The header does not hold exactly one member (L-02).
    MemberCount,
    /// A required parameter is missing.
    MissingParameter(&'static str),
    /// The value is longer than [`MAX_HEADER_LEN`].
    TooLong,
    /// `hwk` with a `kty` other than `OKP`, `EC`, `RSA`.
    UnsupportedKeyType,
    /// The scheme is not one this implementation knows.
    UnsupportedScheme,
}

impl fmt::Display for SignatureKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateParameter => f.write_str("Signature-Key repeats a parameter"),
            Self::ForbiddenParameter(p) => write!(f, "Signature-Key parameter `{p}` not allowed"),
            Self::InvalidWellKnown => f.write_str("Signature-Key well-known is not a path segment"),
            Self::InvalidValue(p) => write!(f, "Signature-Key parameter `{p}` is invalid"),
            Self::JwksMode => f.write_str("scheme=jwks needs exactly one of `jwks` and `id`"),
            Self::LabelMismatch => f.write_str("Signature-Key label differs from the signature's"),
            Self::Malformed => f.write_str("malformed Signature-Key"),
            Self::MemberCount => f.write_str("Signature-Key must have exactly one member"),
            Self::MissingParameter(p) => write!(f, "Signature-Key parameter `{p}` is missing"),
            Self::TooLong => f.write_str("Signature-Key is too long"),
            Self::UnsupportedKeyType => f.write_str("unsupported hwk key type"),
            Self::UnsupportedScheme => f.write_str("unsupported Signature-Key scheme"),
        }
    }
}

impl core::error::Error for SignatureKeyError {}

impl ProtocolError for SignatureKeyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::UnsupportedScheme => ErrorCode::UnsupportedScheme,
            // SK -09 §3.3 (checklist S-09): a key type the verifier does not implement
            // (`oct`, `AKP`, …) is `unsupported_algorithm`, as for a JWK from a JWKS.
            Self::UnsupportedKeyType => ErrorCode::UnsupportedAlgorithm,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

impl<'a> SignatureKey<'a> {
    /// Parses a `Signature-Key` field value in either syntax.
    ///
    /// The value must hold exactly one member (L-02). Parameters this implementation does
    /// not know are ignored; known parameters must not repeat.
    ///
    /// ```
    /// use aauth_core::signature_key::{KeyScheme, SignatureKey, Syntax};
    ///
    /// let sk = SignatureKey::parse(r#"sig=hwk;kty="OKP";crv="Ed25519";x="Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU""#)?;
    /// assert_eq!(sk.syntax, Syntax::StructuredField);
    /// assert!(matches!(sk.scheme, KeyScheme::Hwk(_)));
    /// assert_eq!(
    ///     sk.scheme.to_header("sig")?,
    ///     r#"sig=(scheme=hwk kty="OKP" crv="Ed25519" x="Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU")"#,
    /// );
    /// assert!(SignatureKey::parse(r#"sig1=(scheme=jwt jwt="a"), sig2=(scheme=jwt jwt="b")"#).is_err());
    /// # Ok::<(), aauth_core::signature_key::SignatureKeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`SignatureKeyError`]; an unknown scheme is [`SignatureKeyError::UnsupportedScheme`].
    pub fn parse(value: &'a str) -> Result<Self, SignatureKeyError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(SignatureKeyError::TooLong);
        }
        let raw = value.trim_matches([' ', '\t']);
        if raw.is_empty() {
            return Err(SignatureKeyError::MemberCount);
        }
        let (label, params, syntax) = if is_legacy(raw) {
            let (label, params) = parse_legacy(raw)?;
            (label, params, Syntax::Legacy)
        } else {
            let (label, params) = parse_sf(raw)?;
            (label, params, Syntax::StructuredField)
        };
        let scheme = Params::collect(params)?.into_scheme(syntax)?;
        Ok(Self {
            label,
            scheme,
            syntax,
            raw,
        })
    }

    /// Checks that the label is the one of the signature being verified (L-03).
    ///
    /// # Errors
    /// [`SignatureKeyError::LabelMismatch`].
    pub fn check_label(&self, signature_label: &str) -> Result<&Self, SignatureKeyError> {
        if self.label == signature_label {
            Ok(self)
        } else {
            Err(SignatureKeyError::LabelMismatch)
        }
    }
}

impl KeyScheme {
    /// The legacy scheme name (`hwk`, `jwks`, `jwt`, `x509`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Hwk(_) => "hwk",
            Self::Jwks(_) => "jwks",
            Self::Jwt { .. } => "jwt",
            Self::X509 { .. } => "x509",
        }
    }

    /// Builds the `Signature-Key` field value for a signer, in the legacy syntax with the
    /// parameter order of the reference (digest §2.3):
    /// `jwks` mode 2 `scheme, id, kid, well-known`; mode 1 `scheme, jwks, kid`;
    /// `hwk` `scheme, kty` then `crv x` (OKP), `crv x y` (EC) or `n e` (RSA); `jwt`
    /// `scheme, jwt`; `x509` `scheme, x5u, x5t`. An `hwk` JWK's `kid` and `use` are not
    /// written.
    ///
    /// ```
    /// use aauth_core::signature_key::{JwksRef, KeyScheme};
    ///
    /// let scheme = KeyScheme::Jwks(JwksRef::Id {
    ///     id: "http://127.0.0.1:8001".into(),
    ///     kid: "key-1".into(),
    ///     well_known: Some("aauth-agent".into()),
    /// });
    /// assert_eq!(
    ///     scheme.to_header("sig1")?,
    ///     r#"sig1=(scheme=jwks id="http://127.0.0.1:8001" kid="key-1" well-known="aauth-agent")"#,
    /// );
    /// # Ok::<(), aauth_core::signature_key::SignatureKeyError>(())
    /// ```
    ///
    /// # Errors
    /// Whatever [`SignatureKey::parse`] would refuse in the result (an `hwk` JWK with `alg`
    /// or missing members, an unsafe `well_known`, …), a label that is not an RFC 8941 key,
    /// or a value outside printable ASCII ([`SignatureKeyError::InvalidValue`]).
    pub fn to_header(&self, label: &str) -> Result<String, SignatureKeyError> {
        if !sf::is_key(label) {
            return Err(SignatureKeyError::InvalidValue("label"));
        }
        // Validate with the parser's own rules so a built header always parses back.
        let params = self.to_params();
        let mut check = Vec::with_capacity(params.len() + 1);
        check.push(("scheme", Value::Str(String::from(self.name()))));
        check.extend(params.iter().map(|(k, v)| (*k, Value::Str(v.clone()))));
        Params::collect(check)?.into_scheme(Syntax::Legacy)?;
        let mut out = String::with_capacity(64);
        out.push_str(label);
        out.push_str("=(scheme=");
        out.push_str(self.name());
        for (k, v) in &params {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            sf::write_string(&mut out, v).map_err(|_| SignatureKeyError::InvalidValue(k))?;
        }
        out.push(')');
        Ok(out)
    }

    /// The parameters other than `scheme`, in the reference's order (digest §2.3).
    fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut p: Vec<(&'static str, String)> = Vec::with_capacity(5);
        let mut push = |k: &'static str, v: Option<&String>| {
            if let Some(v) = v {
                p.push((k, v.clone()));
            }
        };
        match self {
            Self::Hwk(jwk) => {
                push("kty", Some(&jwk.kty));
                if jwk.kty == "RSA" {
                    push("n", jwk.n.as_ref());
                    push("e", jwk.e.as_ref());
                } else {
                    push("crv", jwk.crv.as_ref());
                    push("x", jwk.x.as_ref());
                    push("y", jwk.y.as_ref());
                }
                push("alg", jwk.alg.as_ref());
            }
            Self::Jwks(JwksRef::Id {
                id,
                kid,
                well_known,
            }) => {
                push("id", Some(id));
                push("kid", Some(kid));
                push("well-known", well_known.as_ref());
            }
            Self::Jwks(JwksRef::Url { jwks, kid }) => {
                push("jwks", Some(jwks));
                push("kid", Some(kid));
            }
            Self::Jwt { jwt } => push("jwt", Some(jwt)),
            Self::X509 { x5u, x5t } => {
                push("x5u", Some(x5u));
                push("x5t", Some(x5t));
            }
        }
        p
    }
}

impl JwksRef {
    /// The key id to select in the set.
    pub fn kid(&self) -> &str {
        match self {
            Self::Id { kid, .. } | Self::Url { kid, .. } => kid,
        }
    }

    /// What to fetch (L-13): mode 1 and mode 2 without `well-known` name a JWK Set
    /// directly; mode 2 with `well-known` names the metadata document
    /// `{id}/.well-known/{well-known}` whose `jwks_uri` holds the set.
    ///
    /// ```
    /// use aauth_core::signature_key::{JwksLocation, JwksRef};
    /// let r = JwksRef::Id { id: "https://agent.example".into(), kid: "k".into(),
    ///                       well_known: Some("aauth-agent".into()) };
    /// assert_eq!(r.location(),
    ///            JwksLocation::Metadata("https://agent.example/.well-known/aauth-agent".into()));
    /// ```
    pub fn location(&self) -> JwksLocation<'_> {
        match self {
            Self::Id {
                id,
                well_known: Some(name),
                ..
            } => JwksLocation::Metadata(well_known_url(id, name)),
            Self::Id {
                id,
                well_known: None,
                ..
            } => JwksLocation::Jwks(id),
            Self::Url { jwks, .. } => JwksLocation::Jwks(jwks),
        }
    }
}

/// A parameter value before it is typed.
enum Value {
    Str(String),
    /// A structured-field byte sequence (only `x5t` may be one).
    Bytes(String),
    /// Any other structured-field bare item (only unknown parameters may be one).
    Other,
}

/// A label and its parameters, not yet typed.
type RawMember<'a> = (&'a str, Vec<(&'a str, Value)>);

/// The legacy syntax is `label "=("`; an RFC 8941 inner list is not a valid Signature-Key
/// member, so `=(` decides.
fn is_legacy(raw: &str) -> bool {
    raw.bytes()
        .position(|b| b == b'=')
        .is_some_and(|i| raw.as_bytes().get(i + 1) == Some(&b'('))
}

/// `label "=(" param *(SP param) ")"`, `param = key "=" (token / quoted-string)`
/// (digest §2.3). One SP between parameters, as the reference writes them.
fn parse_legacy(raw: &str) -> Result<RawMember<'_>, SignatureKeyError> {
    const E: SignatureKeyError = SignatureKeyError::Malformed;
    let mut p = Parser::new(raw);
    let label = p.key().map_err(|_| E)?;
    if !(p.eat(b'=') && p.eat(b'(')) {
        return Err(E);
    }
    let mut params = Vec::new();
    loop {
        let key = p.key().map_err(|_| E)?;
        if !p.eat(b'=') {
            return Err(E);
        }
        let value = match p.bare_item().map_err(|_| E)? {
            BareItem::String(s) => s,
            BareItem::Token(t) => String::from(t),
            _ => return Err(E),
        };
        params.push((key, Value::Str(value)));
        if params.len() > MAX_PARAMS {
            return Err(E);
        }
        if p.eat(b')') {
            break;
        }
        if !p.eat(b' ') {
            return Err(E);
        }
    }
    if !p.at_end() {
        // A second member (`, sig2=(…)`) or trailing garbage.
        return Err(if p.peek() == Some(b',') {
            SignatureKeyError::MemberCount
        } else {
            E
        });
    }
    Ok((label, params))
}

/// `label=scheme;param=value;…` via the RFC 8941 dictionary parser (SK §3).
fn parse_sf(raw: &str) -> Result<RawMember<'_>, SignatureKeyError> {
    let dict = sf::parse_dictionary_all(raw).map_err(|_| SignatureKeyError::Malformed)?;
    let mut members = dict.into_iter();
    let (label, member) = members.next().ok_or(SignatureKeyError::MemberCount)?;
    if members.next().is_some() {
        return Err(SignatureKeyError::MemberCount);
    }
    let Member::Item(BareItem::Token(scheme), sf_params) = member else {
        return Err(SignatureKeyError::Malformed);
    };
    if sf_params.len() > MAX_PARAMS {
        return Err(SignatureKeyError::Malformed);
    }
    let mut params = Vec::with_capacity(sf_params.len() + 1);
    params.push(("scheme", Value::Str(String::from(scheme))));
    for (k, v) in sf_params {
        let v = match v {
            BareItem::String(s) => Value::Str(s),
            BareItem::Token(t) => Value::Str(String::from(t)),
            BareItem::ByteSequence(b) => Value::Bytes(String::from(b)),
            BareItem::Boolean(_) | BareItem::Integer(_) => Value::Other,
        };
        // `scheme` is the item itself in this syntax, never a parameter.
        let k = if k == "scheme" { "scheme " } else { k };
        params.push((k, v));
    }
    Ok((label, params))
}

/// The known parameters of one member, each at most once.
#[derive(Default)]
struct Params {
    scheme: Option<String>,
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    jwks: Option<String>,
    url: Option<String>,
    id: Option<String>,
    well_known: Option<String>,
    dwk: Option<String>,
    jwt: Option<String>,
    x5u: Option<String>,
    x5t: Option<Value>,
}

impl Params {
    fn collect(list: Vec<(&str, Value)>) -> Result<Self, SignatureKeyError> {
        let mut seen: Vec<&str> = Vec::with_capacity(list.len());
        let mut p = Self::default();
        for (k, v) in list {
            if seen.contains(&k) {
                return Err(SignatureKeyError::DuplicateParameter);
            }
            seen.push(k);
            let slot = match k {
                "scheme" => &mut p.scheme,
                "kty" => &mut p.kty,
                "crv" => &mut p.crv,
                "x" => &mut p.x,
                "y" => &mut p.y,
                "n" => &mut p.n,
                "e" => &mut p.e,
                "alg" => &mut p.alg,
                "kid" => &mut p.kid,
                "jwks" => &mut p.jwks,
                "url" => &mut p.url,
                "id" => &mut p.id,
                "well-known" => &mut p.well_known,
                "dwk" => &mut p.dwk,
                "jwt" => &mut p.jwt,
                "x5u" => &mut p.x5u,
                "x5t" => {
                    p.x5t = Some(v);
                    continue;
                }
                _ => continue, // unknown parameters are ignored
            };
            match v {
                Value::Str(s) => *slot = Some(s),
                Value::Bytes(_) | Value::Other => {
                    return Err(SignatureKeyError::InvalidValue(static_name(k)));
                }
            }
        }
        Ok(p)
    }

    fn into_scheme(self, syntax: Syntax) -> Result<KeyScheme, SignatureKeyError> {
        use SignatureKeyError::{ForbiddenParameter, MissingParameter};
        let legacy = syntax == Syntax::Legacy;
        let scheme = self.scheme.ok_or(MissingParameter("scheme"))?;
        // Scheme names of the legacy syntax and SK §3.4–3.11 map onto the same variants.
        match (scheme.as_str(), legacy) {
            ("hwk", _) => {
                // L-16: `alg` MUST NOT be present (SK @ f94f972). SK -09 §3.4 instead
                // requires it, so the item syntax keeps it in the JWK.
                if legacy && self.alg.is_some() {
                    return Err(ForbiddenParameter("alg"));
                }
                if !legacy && self.kid.is_some() {
                    return Err(ForbiddenParameter("kid")); // SK -09 §3.4
                }
                let kty = self.kty.ok_or(MissingParameter("kty"))?;
                let mut jwk = Jwk::default();
                jwk.alg = self.alg;
                match kty.as_str() {
                    "OKP" => {
                        jwk.crv = Some(self.crv.ok_or(MissingParameter("crv"))?);
                        jwk.x = Some(self.x.ok_or(MissingParameter("x"))?);
                    }
                    "EC" => {
                        jwk.crv = Some(self.crv.ok_or(MissingParameter("crv"))?);
                        jwk.x = Some(self.x.ok_or(MissingParameter("x"))?);
                        jwk.y = Some(self.y.ok_or(MissingParameter("y"))?);
                    }
                    "RSA" => {
                        jwk.n = Some(self.n.ok_or(MissingParameter("n"))?);
                        jwk.e = Some(self.e.ok_or(MissingParameter("e"))?);
                    }
                    _ => return Err(SignatureKeyError::UnsupportedKeyType),
                }
                jwk.kty = kty;
                Ok(KeyScheme::Hwk(jwk))
            }
            ("jwks", true) => {
                // L-12 (L§10.7): exactly one of `jwks` (mode 1) and `id` (mode 2).
                let kid = self.kid.ok_or(MissingParameter("kid"))?;
                match (self.jwks, self.id) {
                    (Some(jwks), None) => {
                        if self.well_known.is_some() {
                            return Err(ForbiddenParameter("well-known"));
                        }
                        Ok(KeyScheme::Jwks(JwksRef::Url { jwks, kid }))
                    }
                    (None, Some(id)) => {
                        let well_known = self.well_known.map(check_segment).transpose()?;
                        Ok(KeyScheme::Jwks(JwksRef::Id {
                            id: check_id(id)?,
                            kid,
                            well_known,
                        }))
                    }
                    _ => Err(SignatureKeyError::JwksMode),
                }
            }
            ("jwks", false) => {
                // SK -09 §3.7: `url` is the JWKS URL.
                let kid = self.kid.ok_or(MissingParameter("kid"))?;
                let jwks = self.url.ok_or(MissingParameter("url"))?;
                if self.id.is_some() {
                    return Err(SignatureKeyError::JwksMode);
                }
                Ok(KeyScheme::Jwks(JwksRef::Url { jwks, kid }))
            }
            ("jwks_uri", false) => {
                // SK -09 §3.6: `id`, `dwk`, `kid` all REQUIRED; `dwk` is mode 2's
                // `well-known`.
                let id = check_id(self.id.ok_or(MissingParameter("id"))?)?;
                let dwk = check_segment(self.dwk.ok_or(MissingParameter("dwk"))?)?;
                let kid = self.kid.ok_or(MissingParameter("kid"))?;
                Ok(KeyScheme::Jwks(JwksRef::Id {
                    id,
                    kid,
                    well_known: Some(dwk),
                }))
            }
            ("jwt", _) => Ok(KeyScheme::Jwt {
                jwt: self.jwt.ok_or(MissingParameter("jwt"))?,
            }),
            ("x509", _) => {
                let x5u = self.x5u.ok_or(MissingParameter("x5u"))?;
                let x5t = match self.x5t.ok_or(MissingParameter("x5t"))? {
                    Value::Str(s) if legacy => s,
                    // SK -09 §3.10: a byte sequence; stored as the legacy BASE64URL text.
                    Value::Bytes(b) if !legacy => b64::std_decode(&b)
                        .filter(|d| d.len() == 32)
                        .map(|d| b64::url_encode(&d))
                        .ok_or(SignatureKeyError::InvalidValue("x5t"))?,
                    _ => return Err(SignatureKeyError::InvalidValue("x5t")),
                };
                Ok(KeyScheme::X509 { x5u, x5t })
            }
            _ => Err(SignatureKeyError::UnsupportedScheme),
        }
    }
}

/// `id` is a base URL that `/.well-known/…` is appended to (L-13): a query or fragment
/// would move the appended path out of the path, so they are refused.
fn check_id(id: String) -> Result<String, SignatureKeyError> {
    if id.is_empty() || id.contains(['?', '#']) {
        return Err(SignatureKeyError::InvalidValue("id"));
    }
    Ok(id)
}

/// `well-known` must be one path segment under `/.well-known/` (L-13): the name is chosen
/// by the requester and the verifier fetches it, so anything that could leave the
/// directory (`/`, `..`, `%2F`, `?`, `#`) is refused. Only RFC 3986 unreserved characters
/// are allowed.
fn check_segment(s: String) -> Result<String, SignatureKeyError> {
    let ok = !s.is_empty()
        && s != "."
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(s)
    } else {
        Err(SignatureKeyError::InvalidWellKnown)
    }
}

fn static_name(k: &str) -> &'static str {
    [
        "scheme",
        "kty",
        "crv",
        "x",
        "y",
        "n",
        "e",
        "alg",
        "kid",
        "jwks",
        "url",
        "id",
        "well-known",
        "dwk",
        "jwt",
        "x5u",
    ]
    .into_iter()
    .find(|n| *n == k)
    .unwrap_or("parameter")
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU";

    fn err(v: &str) -> SignatureKeyError {
        SignatureKey::parse(v).unwrap_err()
    }

    #[test]
    fn legacy_jwks_mode2_round_trip() {
        let v =
            r#"sig1=(scheme=jwks id="http://127.0.0.1:8001" kid="key-1" well-known="aauth-agent")"#;
        let sk = SignatureKey::parse(v).unwrap();
        assert_eq!(sk.syntax, Syntax::Legacy);
        assert_eq!(sk.scheme.to_header("sig1").unwrap(), v);
        assert_eq!(sk.check_label("sig1").unwrap().label, "sig1");
        assert_eq!(sk.check_label("sig"), Err(SignatureKeyError::LabelMismatch));
    }

    #[test]
    fn legacy_escapes_and_raw_trimmed() {
        let v = " sig=(scheme=jwt jwt=\"a\\\"b\\\\c\")\t";
        let sk = SignatureKey::parse(v).unwrap();
        assert_eq!(sk.raw, v.trim());
        assert_eq!(
            sk.scheme,
            KeyScheme::Jwt {
                jwt: "a\"b\\c".into()
            }
        );
        assert_eq!(sk.scheme.to_header("sig").unwrap(), v.trim());
    }

    #[test]
    fn sf_schemes() {
        let sk = SignatureKey::parse(r#"sig1=jwt;jwt="e.y.j";cache"#).unwrap();
        assert_eq!(
            sk.scheme,
            KeyScheme::Jwt {
                jwt: "e.y.j".into()
            }
        );
        let sk = SignatureKey::parse(
            r#"sig=jwks_uri;id="https://a.example";dwk="aauth-agent.json";kid="k1""#,
        )
        .unwrap();
        assert_eq!(
            sk.scheme,
            KeyScheme::Jwks(JwksRef::Id {
                id: "https://a.example".into(),
                kid: "k1".into(),
                well_known: Some("aauth-agent.json".into())
            })
        );
        let v = alloc::format!(r#"sig=hwk;kty="OKP";crv="Ed25519";x="{X}";alg="Ed25519""#);
        let sk = SignatureKey::parse(&v).unwrap();
        let KeyScheme::Hwk(jwk) = &sk.scheme else {
            panic!()
        };
        assert_eq!(jwk.alg.as_deref(), Some("Ed25519"));
        // Legacy building refuses what L-16 forbids.
        assert_eq!(
            sk.scheme.to_header("sig"),
            Err(SignatureKeyError::ForbiddenParameter("alg"))
        );
        let sk = SignatureKey::parse(
            "sig=x509;x5u=\"https://c.example/cert.pem\";x5t=:bWcoon4QTVn8Q6xiY0ekMD6L8bNLMkuDV2KtvsFc1nM=:",
        )
        .unwrap();
        assert_eq!(
            sk.scheme,
            KeyScheme::X509 {
                x5u: "https://c.example/cert.pem".into(),
                x5t: "bWcoon4QTVn8Q6xiY0ekMD6L8bNLMkuDV2KtvsFc1nM".into()
            }
        );
        let sk =
            SignatureKey::parse(r#"s=jwks;url="https://a.example/jwks.json";kid="k""#).unwrap();
        assert!(matches!(sk.scheme, KeyScheme::Jwks(JwksRef::Url { .. })));
    }

    #[test]
    fn builds_every_scheme_in_reference_order() {
        let mut ec = Jwk::default();
        ec.kty = "EC".into();
        ec.crv = Some("P-256".into());
        ec.x = Some("xx".into());
        ec.y = Some("yy".into());
        ec.kid = Some("ignored".into());
        assert_eq!(
            KeyScheme::Hwk(ec).to_header("sig").unwrap(),
            r#"sig=(scheme=hwk kty="EC" crv="P-256" x="xx" y="yy")"#
        );
        let mut rsa = Jwk::default();
        rsa.kty = "RSA".into();
        rsa.n = Some("nn".into());
        rsa.e = Some("AQAB".into());
        assert_eq!(
            KeyScheme::Hwk(rsa).to_header("sig").unwrap(),
            r#"sig=(scheme=hwk kty="RSA" n="nn" e="AQAB")"#
        );
        let m1 = KeyScheme::Jwks(JwksRef::Url {
            jwks: "https://a/j".into(),
            kid: "k".into(),
        });
        assert_eq!(
            m1.to_header("sig").unwrap(),
            r#"sig=(scheme=jwks jwks="https://a/j" kid="k")"#
        );
        let x = KeyScheme::X509 {
            x5u: "https://a/c.pem".into(),
            x5t: "t".into(),
        };
        assert_eq!(
            x.to_header("sig").unwrap(),
            r#"sig=(scheme=x509 x5u="https://a/c.pem" x5t="t")"#
        );
        for s in [m1, x] {
            let h = s.to_header("sig").unwrap();
            assert_eq!(SignatureKey::parse(&h).unwrap().scheme, s);
        }
        let jwt = KeyScheme::Jwt { jwt: "é".into() };
        assert_eq!(
            jwt.to_header("sig"),
            Err(SignatureKeyError::InvalidValue("jwt"))
        );
        assert_eq!(
            KeyScheme::Jwt { jwt: "j".into() }.to_header("Sig"),
            Err(SignatureKeyError::InvalidValue("label"))
        );
    }

    #[test]
    fn rejections() {
        use SignatureKeyError as E;
        assert_eq!(err(""), E::MemberCount);
        assert_eq!(
            err(r#"a=(scheme=jwt jwt="x"), b=(scheme=jwt jwt="y")"#),
            E::MemberCount
        );
        assert_eq!(err(r#"a=jwt;jwt="x", a=jwt;jwt="y""#), E::MemberCount);
        assert_eq!(
            err(r#"a=(scheme=jwt jwt="x" jwt="y")"#),
            E::DuplicateParameter
        );
        assert_eq!(err(r#"a=jwt;jwt="x";jwt="y""#), E::DuplicateParameter);
        assert_eq!(err(r#"a=(scheme=magic k="v")"#), E::UnsupportedScheme);
        assert_eq!(err(r#"a=jkt-jwt;jwt="x""#), E::UnsupportedScheme);
        assert_eq!(
            err(r#"a=(scheme=jwks jwks="u" id="i" kid="k")"#),
            E::JwksMode
        );
        assert_eq!(err(r#"a=(scheme=jwks kid="k")"#), E::JwksMode);
        assert_eq!(
            err(r#"a=(scheme=jwks jwks="u" kid="k" well-known="x")"#),
            E::ForbiddenParameter("well-known")
        );
        assert_eq!(err(r#"a=(scheme=jwks id="i")"#), E::MissingParameter("kid"));
        assert_eq!(
            err(r#"a=(scheme=hwk kty="OKP" crv="Ed25519")"#),
            E::MissingParameter("x")
        );
        assert_eq!(
            err(r#"a=(scheme=hwk kty="EC" crv="P-256" x="x")"#),
            E::MissingParameter("y")
        );
        assert_eq!(
            err(r#"a=(scheme=hwk kty="RSA" n="n")"#),
            E::MissingParameter("e")
        );
        assert_eq!(
            err(r#"a=(scheme=hwk kty="oct" k="x")"#),
            E::UnsupportedKeyType
        );
        assert_eq!(err(r#"a=(scheme=jwt)"#), E::MissingParameter("jwt"));
        assert_eq!(
            err(r#"a=(scheme=jwt cache="1")"#),
            E::MissingParameter("jwt")
        );
        assert_eq!(
            err(r#"a=(scheme=x509 x5u="u")"#),
            E::MissingParameter("x5t")
        );
        assert_eq!(
            err(r#"a=hwk;kty="OKP";crv="Ed25519";x="x";kid="k""#),
            E::ForbiddenParameter("kid")
        );
        assert_eq!(
            err(r#"a=jwks_uri;id="i";kid="k""#),
            E::MissingParameter("dwk")
        );
        assert_eq!(err(r#"a=jwt;jwt=?1"#), E::InvalidValue("jwt"));
        // In the item syntax `scheme` is not a parameter: an unknown one, ignored.
        assert!(SignatureKey::parse(r#"a=jwt;scheme="hwk";jwt="x""#).is_ok());
        for bad in [
            "a=(",
            "a=()",
            "a=(scheme=jwt  jwt=\"x\")",
            "a=(scheme=jwt jwt=\"x\") x",
            "a=( scheme=jwt)",
            "a=(scheme=jwt jwt=\"x)",
            "a=(scheme=jwt jwt=1)",
            "A=(scheme=jwt jwt=\"x\")",
            "a=\"jwt\"",
            "a=(\"x\")",
            "a=jwt;jwt=\"x\" junk",
        ] {
            assert!(SignatureKey::parse(bad).is_err(), "{bad}");
        }
        let long = alloc::format!("a=(scheme=jwt jwt=\"{}\")", "x".repeat(MAX_HEADER_LEN));
        assert_eq!(err(&long), E::TooLong);
        assert_eq!(E::UnsupportedScheme.code(), ErrorCode::UnsupportedScheme);
        assert_eq!(E::JwksMode.code(), ErrorCode::InvalidRequest);
    }

    #[test]
    fn well_known_must_be_one_segment() {
        for wk in [
            "", ".", "..", "a/b", "../jwks", "a..b", "x?y", "x#y", "%2e%2e", "a b", "a\\b",
        ] {
            let mut v =
                String::from(r#"a=(scheme=jwks id="https://a.example" kid="k" well-known="#);
            sf::write_string(&mut v, wk).unwrap();
            v.push(')');
            assert_eq!(err(&v), SignatureKeyError::InvalidWellKnown, "{wk}");
        }
        assert_eq!(
            err(r#"a=(scheme=jwks id="https://a.example?x=" kid="k")"#),
            SignatureKeyError::InvalidValue("id")
        );
    }

    #[test]
    fn location() {
        let r = JwksRef::Id {
            id: "https://a.example/".into(),
            kid: "k".into(),
            well_known: None,
        };
        assert_eq!(r.location(), JwksLocation::Jwks("https://a.example/"));
        assert_eq!(r.kid(), "k");
        let r = JwksRef::Url {
            jwks: "https://a/j".into(),
            kid: "k".into(),
        };
        assert_eq!(r.location(), JwksLocation::Jwks("https://a/j"));
    }
}
