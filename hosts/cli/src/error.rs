//! The CLI's error type.

use std::fmt;

/// Everything that can make a command fail, with a message meant for a person.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// Bad input (flags, files, URLs).
    Usage(String),
    /// File or socket I/O.
    Io(String),
    /// A protocol failure from the agent client (with the error code when there is one).
    Protocol(String),
    /// A server failed to start or stopped with an error.
    Server(String),
}

impl CliError {
    pub(crate) fn usage(m: impl fmt::Display) -> Self {
        Self::Usage(m.to_string())
    }
    pub(crate) fn io(what: impl fmt::Display, e: impl fmt::Display) -> Self {
        Self::Io(format!("{what}: {e}"))
    }
    pub(crate) fn server(what: impl fmt::Display, e: impl fmt::Display) -> Self {
        Self::Server(format!("{what}: {e}"))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) => write!(f, "{m}"),
            Self::Io(m) => write!(f, "I/O error: {m}"),
            Self::Protocol(m) => write!(f, "protocol error: {m}"),
            Self::Server(m) => write!(f, "server error: {m}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<aauth_agent::AgentError> for CliError {
    fn from(e: aauth_agent::AgentError) -> Self {
        let step = e.step().map(|s| format!(" (at {s})")).unwrap_or_default();
        Self::Protocol(format!("{e}{step}"))
    }
}
