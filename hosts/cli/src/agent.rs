//! `aauth serve agent`: the agent's metadata, JWKS and `/callback`.

use std::path::Path;
use std::sync::Arc;

use aauth_agent::AgentServer;
use axum::Router;

use crate::CliError;
use crate::cli::AgentArgs;
use crate::keys;
use crate::serve;

/// An agent server for `id` with the key in `key_file` (created when missing).
///
/// # Errors
/// [`CliError`] when the key file cannot be read or created.
pub fn server(id: &str, key_file: &Path) -> Result<AgentServer, CliError> {
    let key = keys::load_or_create(key_file)?;
    Ok(AgentServer::new(id, Arc::new(key)))
}

/// The logged router of `server`.
pub fn router(server: &AgentServer) -> Router {
    serve::with_request_log(server.router(), "agent")
}

/// Runs `aauth serve agent` until SIGINT/SIGTERM.
///
/// # Errors
/// [`CliError`].
pub async fn serve_cli(args: AgentArgs) -> Result<(), CliError> {
    let key_file = args.key.unwrap_or_else(keys::default_agent_key_file);
    let server = server(&args.id, &key_file)?;
    let listener = serve::bind(args.listen).await?;
    tracing::info!(
        "agent {} on {} (key {})",
        server.id(),
        args.listen,
        key_file.display()
    );
    serve::run(listener, router(&server), serve::shutdown_signal()).await
}
