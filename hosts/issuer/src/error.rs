//! The server's error type and its one mapping to HTTP ([`Error::into_response`]).

use std::borrow::Cow;

use aauth_core::ErrorCode;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::pages;
use crate::store::StoreError;

/// Why a request failed. Constructed by the handlers; turned into a response in exactly one
/// place.
#[derive(Debug)]
pub(crate) enum Error {
    /// The request is malformed or a grant is refused: `400` (or `403` for
    /// `access_denied`), JSON `{"error","error_description"}`.
    Client(ErrorCode, Cow<'static, str>),
    /// The request could not be authenticated (signature, key, agent token, upstream token):
    /// `401`, JSON, whatever the code (the reference sends `invalid_request` with 401 for
    /// missing signature headers).
    Unauthenticated(ErrorCode, Cow<'static, str>),
    /// The body exceeds the configured limit: `413`, JSON `invalid_request`.
    TooLarge,
    /// Storage failed: `500` `server_error`, details only in the log.
    Store(StoreError),
    /// Another server fault (e.g. token signing): `500` `server_error`.
    Internal(&'static str),
    /// A consent-UI failure: an HTML error page with this status and message.
    Page(StatusCode, Cow<'static, str>),
}

impl Error {
    pub(crate) fn invalid_request(desc: impl Into<Cow<'static, str>>) -> Self {
        Self::Client(ErrorCode::InvalidRequest, desc.into())
    }

    pub(crate) fn invalid_grant(desc: impl Into<Cow<'static, str>>) -> Self {
        Self::Client(ErrorCode::InvalidGrant, desc.into())
    }

    pub(crate) fn invalid_resource_token(desc: impl Into<Cow<'static, str>>) -> Self {
        Self::Client(ErrorCode::InvalidResourceToken, desc.into())
    }

    pub(crate) fn unauthenticated(code: ErrorCode, desc: impl Into<Cow<'static, str>>) -> Self {
        Self::Unauthenticated(code, desc.into())
    }

    pub(crate) fn page(status: StatusCode, msg: impl Into<Cow<'static, str>>) -> Self {
        Self::Page(status, msg.into())
    }

    /// The protocol error code the response carries (for logs and trace spans).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Client(c, _) | Self::Unauthenticated(c, _) => c.as_str(),
            Self::TooLarge => ErrorCode::InvalidRequest.as_str(),
            Self::Store(_) | Self::Internal(_) => "server_error",
            Self::Page(..) => "page_error",
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for Error {
    /// The one place where failures become HTTP responses.
    fn into_response(self) -> Response {
        let (status, code, desc) = match self {
            Self::Client(code, desc) => {
                let status = if code == ErrorCode::AccessDenied {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                };
                (status, code, desc)
            }
            Self::Unauthenticated(code, desc) => (StatusCode::UNAUTHORIZED, code, desc),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                "Request body too large".into(),
            ),
            Self::Store(e) => {
                let source = std::error::Error::source(&e).map(ToString::to_string);
                tracing::error!(error = %e, source = ?source, "storage failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "Internal server error".into(),
                )
            }
            Self::Internal(what) => {
                tracing::error!(what, "internal failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "Internal server error".into(),
                )
            }
            Self::Page(status, msg) => {
                tracing::info!(status = status.as_u16(), msg = %msg, "consent page error");
                return (status, Html(pages::error_page(&msg))).into_response();
            }
        };
        tracing::info!(status = status.as_u16(), error = code.as_str(), description = %desc);
        let body = serde_json::json!({ "error": code.as_str(), "error_description": desc });
        (status, axum::Json(body)).into_response()
    }
}
