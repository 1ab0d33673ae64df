//! Why a request was refused, and the one function that turns that into HTTP.

use core::fmt;

use aauth_core::replay::ReplayError;
use aauth_core::token::TokenError;
use aauth_core::verify::VerifyError;
use aauth_core::{AgentAuth, ErrorCode};
use aauth_http::Refusal;
pub use aauth_http::Unmet;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// Why the middleware (or the [`VerifiedAgent`](crate::VerifiedAgent) extractor) refused
/// a request. Rendered by its [`IntoResponse`] impl, the only place this crate maps errors
/// to HTTP.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is longer than the configured limit: `413` with `invalid_request`.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read: `400` with `invalid_request`.
    BodyUnreadable,
    /// The request is valid but does not meet the route's requirement: `401` with the
    /// challenge.
    Challenge {
        /// The `Agent-Auth` challenge to send.
        challenge: Box<AgentAuth>,
        /// What is missing.
        unmet: Unmet,
    },
    /// The `Nonce` check refused the request (replayed, malformed, cache saturated): the
    /// status of the error's code with `Agent-Auth: httpsig`.
    Replay(ReplayError),
    /// The resource token for a challenge could not be signed: `500` with `server_error`.
    ResourceToken(TokenError),
    /// Verification failed (bad or stale signature, bad token, untrusted issuer, malformed
    /// headers): the status of the error's code (401, or 400 for malformed input), with
    /// `Agent-Auth: httpsig` (plus `auth-token` when an auth token was presented).
    Verification {
        /// The core's error.
        error: VerifyError,
        /// The challenge to send.
        challenge: Box<AgentAuth>,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyTooLarge { limit } => write!(f, "the request body exceeds {limit} bytes"),
            Self::BodyUnreadable => f.write_str("the request body could not be read"),
            Self::Challenge { unmet, .. } => unmet.fmt(f),
            Self::Replay(e) => e.fmt(f),
            Self::ResourceToken(e) => write!(f, "resource token: {e}"),
            Self::Verification { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for Rejection {}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Challenge { challenge, unmet } => Self::Challenge { challenge, unmet },
            Refusal::ResourceToken(e) => Self::ResourceToken(e),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let resp = match &self {
            Self::BodyTooLarge { .. } => aauth_http::json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                &self.to_string(),
                None,
            ),
            Self::BodyUnreadable => aauth_http::json_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                &self.to_string(),
                None,
            ),
            Self::Challenge { challenge, unmet } => {
                aauth_http::challenge_response(challenge, Some(unmet))
            }
            Self::Replay(e) => aauth_http::error_response(e, Some(&AgentAuth::pseudonymous())),
            Self::ResourceToken(_) => aauth_http::json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "the resource token could not be issued",
                None,
            ),
            Self::Verification { error, challenge } => {
                aauth_http::error_response(error, Some(challenge))
            }
        };
        resp.map(Body::from)
    }
}
