//! Protocol error codes shared by every per-concern error type.
//!
//! Each error enum of the core (`SignatureError`, `TokenError`, …) maps itself to one
//! [`ErrorCode`]; hosts render the code as the JSON body `{"error", "error_description"}` of
//! digest §2.9 and choose the HTTP status with [`ErrorCode::http_status`]. That mapping lives
//! here, once.

use core::fmt;

/// The `error` values this implementation emits (digest §2.9, reference notes §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The person or policy refused the request (consent denied).
    AccessDenied,
    /// An agent token (`agent+jwt`) failed validation.
    InvalidAgentToken,
    /// An auth token (`auth+jwt`) failed validation.
    InvalidAuthToken,
    /// An authorization code, refresh token or request token is unknown, used, expired or
    /// bound to another agent or `redirect_uri`.
    InvalidGrant,
    /// The request is malformed: a missing or unparseable header or parameter.
    InvalidRequest,
    /// A resource token (`resource+jwt`) failed validation.
    InvalidResourceToken,
    /// The requested scope is not allowed.
    InvalidScope,
    /// The HTTP message signature is missing, stale, incomplete or does not verify.
    InvalidSignature,
    /// A token failed validation where the token kind is not known in advance.
    InvalidToken,
    /// The key that signed the request is not the key bound in the token (`cnf.jwk`,
    /// `agent_jkt`).
    KeyBindingFailed,
    /// The auth server failed; nothing about the request is implied.
    ServerError,
    /// The key's algorithm is not supported or not consistent with the key.
    UnsupportedAlgorithm,
    /// The `request_type` is not supported.
    UnsupportedRequestType,
    /// The Signature-Key scheme is not supported.
    UnsupportedScheme,
}

impl ErrorCode {
    /// The wire spelling of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidAgentToken => "invalid_agent_token",
            Self::InvalidAuthToken => "invalid_auth_token",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidResourceToken => "invalid_resource_token",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidToken => "invalid_token",
            Self::KeyBindingFailed => "key_binding_failed",
            Self::ServerError => "server_error",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnsupportedRequestType => "unsupported_request_type",
            Self::UnsupportedScheme => "unsupported_scheme",
        }
    }

    /// The HTTP status that carries this code: 401 for failures of request authentication
    /// (the caller may retry with other credentials), 400 for bad parameters and grants,
    /// 403 for refusals, 500 for server faults.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidSignature
            | Self::InvalidAgentToken
            | Self::InvalidAuthToken
            | Self::InvalidToken
            | Self::KeyBindingFailed
            | Self::UnsupportedAlgorithm
            | Self::UnsupportedScheme => 401,
            Self::InvalidGrant
            | Self::InvalidRequest
            | Self::InvalidResourceToken
            | Self::InvalidScope
            | Self::UnsupportedRequestType => 400,
            Self::AccessDenied => 403,
            Self::ServerError => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every error of the core: the protocol code a host should report.
pub trait ProtocolError: fmt::Display {
    /// The `error` member to send.
    fn code(&self) -> ErrorCode;
}
