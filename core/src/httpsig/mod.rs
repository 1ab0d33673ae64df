//! HTTP Message Signatures (RFC 9421), request side, with the AAuth profile (digest §2.4).
//!
//! Signing picks the covered components the profile requires (`@method`, `@authority`,
//! `@path`, `@query` iff there is a query, `content-type` + `content-digest` iff there is a
//! body, `nonce` iff a `Nonce` header is sent, and `signature-key`) and returns header
//! values for the host to apply. Verification is split in two so key lookup can happen in
//! between without the core doing I/O: [`SignedRequest::parse`] checks everything that does
//! not need a key (labels, covered components, `created`/`expires`, `Content-Digest`), then
//! [`SignedRequest::verify`] checks the signature with the key the host resolved.

mod base;
pub mod component;
pub mod params;
mod policy;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use base::signature_base;
pub use component::Component;
pub use params::{SignatureEncoding, SignatureParams};
pub use policy::{BaseMode, VerifyPolicy};

use crate::content_digest;
use crate::crypto::{PublicKey, SignatureCheck, Signer};
use crate::error::{ErrorCode, ProtocolError};
use crate::request::RequestParts;
use crate::time::UnixTime;

/// The label the early-2026 generation always uses; the 0.1.0 reference accepts no other.
pub const DEFAULT_LABEL: &str = "sig1";

/// Why a request signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// `Content-Digest` is missing, malformed or does not match the body (L-06, L-07).
    ContentDigest(content_digest::DigestError),
    /// `created` is older than the window allows (L-09).
    CreatedTooOld {
        /// The verifier's time.
        now: UnixTime,
        /// The signature's `created`.
        created: u64,
    },
    /// `created` is further in the future than the window allows (L-09).
    CreatedInFuture {
        /// The verifier's time.
        now: UnixTime,
        /// The signature's `created`.
        created: u64,
    },
    /// `expires` has passed.
    Expired {
        /// The verifier's time.
        now: UnixTime,
        /// The signature's `expires`.
        expires: u64,
    },
    /// A component the profile forbids here is covered, e.g. `@query` without a query or
    /// `content-digest` without a body (L-05, L-06).
    ForbiddenComponent(&'static str),
    /// The labels of `Signature-Input`, `Signature` and `Signature-Key` differ (L-03).
    LabelMismatch,
    /// `Signature-Input` is malformed.
    MalformedInput,
    /// `Signature` is malformed.
    MalformedSignature,
    /// A required component is not covered (L-01, L-04..L-06, L-08).
    MissingComponent(&'static str),
    /// `created` is absent (L-09).
    MissingCreated,
    /// A covered header field is absent from the request.
    MissingField,
    /// `Signature`, `Signature-Input` or `Signature-Key` is absent.
    MissingHeader(&'static str),
    /// More than one signature is present (L-03: AAuth supports one signature per request).
    MultipleSignatures,
    /// The signature does not verify with the key.
    BadSignature,
    /// A component name outside the request side of RFC 9421 is covered.
    UnsupportedComponent,
    /// The request cannot be signed: it has a body but no `Content-Type`.
    MissingContentType,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContentDigest(e) => e.fmt(f),
            Self::CreatedTooOld { now, created } => {
                write!(f, "signature created at {created} is too old (now {now})")
            }
            Self::CreatedInFuture { now, created } => {
                write!(
                    f,
                    "signature created at {created} is in the future (now {now})"
                )
            }
            Self::Expired { now, expires } => {
                write!(f, "signature expired at {expires} (now {now})")
            }
            Self::ForbiddenComponent(c) => write!(f, "`{c}` must not be covered by this request"),
            Self::LabelMismatch => {
                f.write_str("Signature-Input, Signature and Signature-Key labels differ")
            }
            Self::MalformedInput => f.write_str("Signature-Input is malformed"),
            Self::MalformedSignature => f.write_str("Signature is malformed"),
            Self::MissingComponent(c) => write!(f, "`{c}` must be a covered component"),
            Self::MissingCreated => f.write_str("Signature-Input has no `created` parameter"),
            Self::MissingField => f.write_str("a covered header field is missing"),
            Self::MissingHeader(h) => write!(f, "missing {h} header"),
            Self::MultipleSignatures => f.write_str("exactly one signature is allowed"),
            Self::BadSignature => f.write_str("signature verification failed"),
            Self::UnsupportedComponent => f.write_str("unsupported covered component"),
            Self::MissingContentType => f.write_str("a request with a body needs Content-Type"),
        }
    }
}

impl core::error::Error for SignatureError {}

impl ProtocolError for SignatureError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedInput | Self::MalformedSignature | Self::MissingContentType => {
                ErrorCode::InvalidRequest
            }
            _ => ErrorCode::InvalidSignature,
        }
    }
}

/// Options for [`sign_request`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignOptions<'a> {
    /// The signature label; `sig1` by default.
    pub label: &'a str,
    /// The `created` time.
    pub created: UnixTime,
    /// An optional `expires` time.
    pub expires: Option<UnixTime>,
    /// Extra header fields to cover, after the profile's own (lower-case names).
    pub extra_components: &'a [&'a str],
    /// How the `Signature` bytes are written.
    pub encoding: SignatureEncoding,
}

impl<'a> SignOptions<'a> {
    /// Defaults: label `sig1`, no `expires`, base64url encoding.
    pub const fn new(created: UnixTime) -> Self {
        Self {
            label: DEFAULT_LABEL,
            created,
            expires: None,
            extra_components: &[],
            encoding: SignatureEncoding::Base64Url,
        }
    }

    /// Sets `expires`.
    #[must_use]
    pub const fn with_expires(mut self, expires: UnixTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets the `Signature` encoding.
    #[must_use]
    pub const fn with_encoding(mut self, encoding: SignatureEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Covers these extra header fields.
    #[must_use]
    pub const fn with_extra_components(mut self, extra: &'a [&'a str]) -> Self {
        self.extra_components = extra;
        self
    }

    /// Sets the label.
    #[must_use]
    pub const fn with_label(mut self, label: &'a str) -> Self {
        self.label = label;
        self
    }
}

/// Header values to add to a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureHeaders {
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
    /// `Signature-Key`, exactly as signed.
    pub signature_key: String,
    /// `Content-Digest`, when the request has a body and did not carry one.
    pub content_digest: Option<String>,
}

impl SignatureHeaders {
    /// The headers as `(name, value)` pairs, in the order the reference sends them.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.content_digest
            .as_deref()
            .map(|d| ("Content-Digest", d))
            .into_iter()
            .chain([
                ("Signature-Key", self.signature_key.as_str()),
                ("Signature-Input", self.signature_input.as_str()),
                ("Signature", self.signature.as_str()),
            ])
    }
}

/// Signs a request under the AAuth profile.
///
/// `signature_key` is the complete `Signature-Key` header value (with the label), built by
/// [`crate::signature_key`]; it is covered byte for byte. When the request has a body and no
/// `Content-Digest` header, a sha-256 digest is computed, covered and returned.
///
/// ```
/// use aauth_core::httpsig::{sign_request, SignOptions};
/// use aauth_core::{RequestParts, SigningKey, UnixTime};
///
/// let key = SigningKey::from_seed(&[1; 32]);
/// let req = RequestParts::new("GET", "resource.example", "/data", &[]);
/// let sk = r#"sig1=(scheme=jwks id="https://agent.example" kid="key-1" well-known="aauth-agent")"#;
/// let h = sign_request(&req, sk, &key, &SignOptions::new(UnixTime::from_secs(1_768_785_919)))
///     .unwrap();
/// assert_eq!(
///     h.signature_input,
///     r#"sig1=("@method" "@authority" "@path" "signature-key");created=1768785919"#
/// );
/// assert_eq!(h.signature.len(), "sig1=::".len() + 86);
/// ```
///
/// # Errors
/// [`SignatureError::MissingContentType`] for a body without `Content-Type`;
/// [`SignatureError::MissingField`] when an extra component's header is absent.
pub fn sign_request(
    req: &RequestParts<'_>,
    signature_key: &str,
    signer: &dyn Signer,
    opts: &SignOptions<'_>,
) -> Result<SignatureHeaders, SignatureError> {
    let content_digest = (req.has_body() && req.header("content-digest").is_none())
        .then(|| content_digest::sha256(req.body.unwrap_or_default()));
    let mut components = alloc::vec![Component::Method, Component::Authority, Component::Path];
    if req.query().is_some() {
        components.push(Component::Query);
    }
    if req.has_body() {
        if req.header("content-type").is_none() {
            return Err(SignatureError::MissingContentType);
        }
        components.push(Component::Field("content-type".into()));
        components.push(Component::Field("content-digest".into()));
    }
    if req.header("nonce").is_some() {
        components.push(Component::Field("nonce".into()));
    }
    for extra in opts.extra_components {
        let c = Component::parse(extra)?;
        if !components.contains(&c) {
            components.push(c);
        }
    }
    components.push(Component::Field("signature-key".into()));

    let mut params = SignatureParams::new(components, opts.created.as_secs());
    if let Some(e) = opts.expires {
        params = params.with_expires(e.as_secs());
    }
    let serialized = params.serialize()?;
    let overrides = Overrides {
        signature_key: Some(signature_key.as_bytes()),
        content_digest: content_digest.as_deref().map(str::as_bytes),
    };
    let base = base::build(req, &params, &serialized, &overrides, BaseMode::Rfc9421)?;
    let sig = signer.sign(&base);
    Ok(SignatureHeaders {
        signature_input: alloc::format!("{}={serialized}", opts.label),
        signature: params::serialize_signature(opts.label, &sig, opts.encoding),
        signature_key: signature_key.into(),
        content_digest,
    })
}

/// Header values the signer is about to add, used in place of the request's own.
#[derive(Default)]
struct Overrides<'a> {
    signature_key: Option<&'a [u8]>,
    content_digest: Option<&'a [u8]>,
}

/// A request whose signature headers passed every check that needs no key.
///
/// Obtain one with [`SignedRequest::parse`], resolve the key named by `Signature-Key`, then
/// call [`SignedRequest::verify`].
#[derive(Clone, Debug)]
pub struct SignedRequest<'a> {
    label: &'a str,
    params: SignatureParams,
    serialized_params: String,
    signature: Vec<u8>,
    signature_key: &'a str,
}

impl<'a> SignedRequest<'a> {
    /// Parses `Signature-Input`, `Signature` and `Signature-Key` and applies `policy` at
    /// time `now`: one label everywhere (L-03), the required components (L-01, L-04..L-06,
    /// L-08), fresh `created` (L-09), unexpired `expires`, and a `Content-Digest` that
    /// matches the body whenever it is covered (L-07).
    ///
    /// The `Signature-Key` value itself is parsed by [`crate::signature_key`]; here only its
    /// label is compared.
    ///
    /// # Errors
    /// The first [`SignatureError`] found.
    pub fn parse(
        req: &RequestParts<'a>,
        policy: &VerifyPolicy,
        now: UnixTime,
    ) -> Result<Self, SignatureError> {
        let input = single_header(req, "signature-input", "Signature-Input")?;
        let signature = single_header(req, "signature", "Signature")?;
        let signature_key = single_header(req, "signature-key", "Signature-Key")?;
        let (label, params) = params::parse_signature_input(input)?;
        let (sig_label, signature) = params::parse_signature(signature)?;
        if label != sig_label || label_of(signature_key).is_none_or(|l| l != label) {
            return Err(SignatureError::LabelMismatch);
        }
        policy.check(req, &params, now)?;
        if params.covers(&Component::Field("content-digest".into())) {
            let digest = req
                .header("content-digest")
                .and_then(|v| core::str::from_utf8(v).ok())
                .ok_or(SignatureError::MissingField)?;
            content_digest::verify(digest, req.body.unwrap_or_default())
                .map_err(SignatureError::ContentDigest)?;
        }
        let serialized_params = params.serialize()?;
        Ok(Self {
            label,
            params,
            serialized_params,
            signature,
            signature_key,
        })
    }

    /// The signature label.
    pub fn label(&self) -> &'a str {
        self.label
    }

    /// The covered components and parameters.
    pub fn params(&self) -> &SignatureParams {
        &self.params
    }

    /// The `Signature-Key` header value, exactly as received.
    pub fn signature_key(&self) -> &'a str {
        self.signature_key
    }

    /// The signature base the signer must have signed.
    ///
    /// # Errors
    /// [`SignatureError::MissingField`] when a covered header is absent.
    pub fn signature_base(
        &self,
        req: &RequestParts<'_>,
        mode: BaseMode,
    ) -> Result<Vec<u8>, SignatureError> {
        base::build(
            req,
            &self.params,
            &self.serialized_params,
            &Overrides::default(),
            mode,
        )
    }

    /// Verifies the signature over `req` with `key` (RFC 9421 §3.2); the key determines the
    /// algorithm and any `alg` parameter is ignored (digest §5.2 S-11).
    ///
    /// # Errors
    /// [`SignatureError::BadSignature`] when it does not verify.
    pub fn verify(
        &self,
        req: &RequestParts<'_>,
        key: &PublicKey,
        policy: &VerifyPolicy,
    ) -> Result<(), SignatureError> {
        let base = self.signature_base(req, policy.base_mode)?;
        self.signature_check(key, &base)
            .run()
            .map_err(|_| SignatureError::BadSignature)
    }

    /// The check [`verify`](Self::verify) makes over `base` (built by
    /// [`signature_base`](Self::signature_base)), to run with another
    /// ([`crypto::check_two`](crate::crypto::check_two)).
    pub(crate) fn signature_check<'k>(
        &'k self,
        key: &'k PublicKey,
        base: &'k [u8],
    ) -> SignatureCheck<'k> {
        SignatureCheck {
            key,
            alg: None,
            msg: base,
            sig: &self.signature,
        }
    }
}

fn single_header<'a>(
    req: &RequestParts<'a>,
    name: &str,
    display: &'static str,
) -> Result<&'a str, SignatureError> {
    match req.header_count(name) {
        0 => Err(SignatureError::MissingHeader(display)),
        1 => req
            .header(name)
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(str::trim)
            .ok_or(SignatureError::MissingHeader(display)),
        // Two field lines would be combined into a two-member list, which L-02/L-03 forbid.
        _ => Err(SignatureError::MultipleSignatures),
    }
}

/// The dictionary key before the first `=` of a `Signature-Key` value, in either syntax.
fn label_of(signature_key: &str) -> Option<&str> {
    let label = &signature_key[..signature_key.find('=')?];
    crate::sf::is_key(label).then_some(label)
}
