//! Shared server plumbing: one log line per request, graceful shutdown on SIGINT/SIGTERM.

use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tracing::Instrument as _;

use crate::CliError;

/// Adds the request log (`<role> METHOD path -> status (ms)`) and the request's trace span
/// (continuing the caller's `traceparent`; see [`crate::telemetry`]) to `router`.
pub fn with_request_log(router: Router, role: &'static str) -> Router {
    router.layer(middleware::from_fn(move |req: Request, next: Next| {
        log_request(role, req, next)
    }))
}

async fn log_request(role: &'static str, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let span = crate::telemetry::server_span(role, method.as_str(), &path, req.headers());
    let res = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", res.status().as_u16());
    tracing::info!(
        "{role} {method} {path} -> {} ({} ms)",
        res.status().as_u16(),
        start.elapsed().as_millis()
    );
    res
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

/// Binds `addr`.
///
/// # Errors
/// [`CliError::Io`].
pub async fn bind(
    addr: impl tokio::net::ToSocketAddrs + std::fmt::Display,
) -> Result<TcpListener, CliError> {
    let what = format!("listen on {addr}");
    TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::io(what, e))
}

/// Serves `router` on `listener` until `shutdown` resolves.
///
/// # Errors
/// [`CliError::Server`].
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::server("serve", e))
}
