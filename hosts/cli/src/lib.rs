//! # aauth-cli
//!
//! The `aauth` command and the library behind it, so tests and the demo share code:
//!
//! * [`cli`]: the clap definitions ([`Cli`]);
//! * [`demo`]: the in-process demo (agent, two resources, two auth servers, three flows);
//! * [`resource`]: the seed resource routes (`/data-hwk`, `/data-jwks`, `/data-auth`,
//!   `/data-user`, `/data-chain`);
//! * [`issuer`], [`agent`]: the other two servers;
//! * [`fetch`]: the signing client that follows challenges;
//! * [`keys`], [`token`]: key files and token decoding;
//! * [`serve`]: request logging and graceful shutdown shared by every server.
#![forbid(unsafe_code)]

/// `println!` that ignores a closed stdout (e.g. `aauth demo | head`) instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout(), $($t)*);
    }};
}

/// `print!` that ignores a closed stdout.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stdout(), $($t)*);
    }};
}

pub mod agent;
pub mod cli;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod issuer;
pub mod keys;
pub mod resource;
pub mod serve;
pub mod token;

use std::process::ExitCode;

pub use cli::Cli;
pub use error::CliError;

use cli::{Command, KeysCommand, ServeCommand, TokenCommand};

/// Installs the *ring* rustls provider as the process default (discovery's reqwest client
/// is built without one). Idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Initializes the log subscriber: one line per request at `info` (`warn` when `quiet`).
pub fn init_logging(quiet: bool) {
    let level = if quiet {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs a parsed command line and maps the outcome to an exit status (errors are printed
/// to stderr).
pub fn main_with(cli: Cli) -> ExitCode {
    init_tls();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aauth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aauth: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// [`CliError`] with the failing step and, for protocol failures, the error code.
pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Demo(args) => {
            init_logging(!args.log);
            let report = demo::run(&demo::DemoOptions::from(&args), true).await?;
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve { role } => {
            init_logging(false);
            match role {
                ServeCommand::Issuer(a) => issuer::serve_cli(a).await?,
                ServeCommand::Resource(a) => resource::serve_cli(a).await?,
                ServeCommand::Agent(a) => agent::serve_cli(a).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch(args) => {
            init_logging(true);
            let outcome = fetch::run(&fetch::FetchOptions::try_from(args)?).await?;
            Ok(outcome.exit_code())
        }
        Command::Keys {
            command: KeysCommand::Generate { out, kid },
        } => {
            let key = keys::generate(&kid)?;
            if let Some(path) = &out {
                keys::write_key_file(path, &key)?;
                eprintln!("wrote {}", path.display());
            }
            crate::outln!("{}", keys::private_jwk_json(&key));
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::Decode { token },
        } => {
            crate::outln!("{}", token::decode(&token)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::IssuerKeys { command } => {
            init_logging(true);
            let out = issuer::signing_keys(command).await?;
            crate::out!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
