//! The one error type of key discovery, and its protocol code.

use core::fmt;

use aauth_core::crypto::KeyError;
use aauth_core::{ErrorCode, ProtocolError};

/// Why no key could be obtained for a [`JwksLocation`](crate::JwksLocation).
///
/// Errors carry no strings taken from the network, so they are cheap to clone into the
/// negative cache and safe to log. Map them to a protocol code with
/// [`ProtocolError::code`]; see there for the choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Two keys in the JWKS carry the requested `kid`.
    AmbiguousKid,
    /// The metadata's `jwks_uri` is on another origin than the identifier and the
    /// configuration does not allow that (digest §3.6 "cross-origin jwks_uri needs explicit
    /// admission").
    CrossOriginJwksUri,
    /// The egress policy refused the URL: scheme, credentials in the URL, an IP literal or
    /// every resolved address of the host is outside the allowed classes (digest S-22).
    EgressDenied,
    /// The endpoint answered with a status other than `200` (and not a redirect).
    Http(u16),
    /// The response is not a JSON document of the expected shape: not JSON, a non-JSON
    /// content type, metadata without a string `jwks_uri`, a JWKS without a `keys` array,
    /// or more keys than the configured maximum.
    InvalidDocument,
    /// The location itself is malformed: not an absolute URL, an identifier with a query,
    /// fragment or trailing slash, or a `well_known` name that is not a safe path segment.
    InvalidLocation,
    /// The metadata names another party than the identifier it was fetched for (`issuer`,
    /// `agent` or `resource` differs from `id` byte for byte; digest §6.2 "metadata host
    /// poisoning", S-15).
    IssuerMismatch,
    /// The configuration requires an identifying member and the metadata has none
    /// (`issuer_missing`, S-15).
    IssuerMissing,
    /// The selected key cannot be used (unsupported type, `alg` inconsistent with the key,
    /// private members, bad encoding).
    Key(KeyError),
    /// The connection or TLS handshake failed, or the response was cut short.
    Network,
    /// The endpoint answered with a redirect; redirects are never followed.
    Redirect,
    /// The response was bigger than the configured limit.
    TooLarge,
    /// The exchange did not finish within the configured time.
    Timeout,
    /// No key with this `kid` in the JWKS, even after the allowed refetch (S-23).
    UnknownKid,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AmbiguousKid => f.write_str("the JWKS has more than one key with this kid"),
            Self::CrossOriginJwksUri => {
                f.write_str("the metadata's jwks_uri is not on the identifier's origin")
            }
            Self::EgressDenied => f.write_str("the egress policy refused the URL"),
            Self::Http(status) => write!(f, "key discovery endpoint answered HTTP {status}"),
            Self::InvalidDocument => f.write_str("the discovery document is malformed"),
            Self::InvalidLocation => f.write_str("the key location is malformed"),
            Self::IssuerMismatch => {
                f.write_str("the metadata's identifier does not match the URL it was fetched for")
            }
            Self::IssuerMissing => f.write_str("the metadata has no identifying member"),
            Self::Key(e) => e.fmt(f),
            Self::Network => f.write_str("key discovery request failed"),
            Self::Redirect => f.write_str("key discovery endpoint redirected; not followed"),
            Self::TooLarge => f.write_str("key discovery response exceeds the size limit"),
            Self::Timeout => f.write_str("key discovery timed out"),
            Self::UnknownKid => f.write_str("no key with this kid in the JWKS"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

impl ProtocolError for DiscoveryError {
    /// The code a verifier reports when it could not get the signer's key.
    ///
    /// - [`InvalidLocation`](Self::InvalidLocation) → `invalid_request`: the caller sent a
    ///   key reference that cannot be a location (a malformed `Signature-Key`, `iss` or
    ///   `dwk`), a 400.
    /// - [`Key`](Self::Key) → the key error's own code (`unsupported_algorithm` for a key type
    ///   or `alg` we do not accept, else `invalid_request`).
    /// - everything else → `invalid_signature` (401): the signer's key could not be
    ///   obtained, so the signature cannot be verified, and the caller may retry with other
    ///   credentials. Fetch failures are caused by the party the caller names, so they are
    ///   never reported as our `server_error`. Verifiers of tokens (rather than request
    ///   signatures) remap this to their token code (`invalid_agent_token`, …) at their
    ///   layer, where the token kind is known.
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidLocation => ErrorCode::InvalidRequest,
            Self::Key(e) => e.code(),
            _ => ErrorCode::InvalidSignature,
        }
    }
}
