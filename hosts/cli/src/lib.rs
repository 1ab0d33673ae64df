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
pub mod telemetry;
pub mod token;

use std::process::ExitCode;

use tracing::Instrument as _;

pub use cli::Cli;
pub use error::CliError;

use cli::{Command, KeysCommand, ServeCommand, TokenCommand};

/// Installs the *ring* rustls provider as the process default (discovery's reqwest client
/// is built without one). Idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
            let telemetry = telemetry::init("aauth-demo", !args.log);
            let report = demo::run(&demo::DemoOptions::from(&args), true)
                .instrument(tracing::info_span!("aauth.demo"))
                .await;
            telemetry.shutdown();
            let report = report?;
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve { role } => {
            let service = match &role {
                ServeCommand::Issuer(_) => "aauth-issuer",
                ServeCommand::Resource(_) => "aauth-resource",
                ServeCommand::Agent(_) => "aauth-agent-server",
            };
            let telemetry = telemetry::init(service, false);
            let result = match role {
                ServeCommand::Issuer(a) => issuer::serve_cli(a).await,
                ServeCommand::Resource(a) => resource::serve_cli(a).await,
                ServeCommand::Agent(a) => agent::serve_cli(a).await,
            };
            telemetry.shutdown();
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch(args) => {
            let telemetry = telemetry::init("aauth-agent", true);
            let opts = fetch::FetchOptions::try_from(args)?;
            // One root span: every hop (resource, token endpoint, retry) is its child,
            // and the servers continue the same trace from `traceparent`.
            let outcome = fetch::run(&opts)
                .instrument(tracing::info_span!("aauth.fetch", otel.kind = "client"))
                .await;
            telemetry.shutdown();
            Ok(outcome?.exit_code())
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
            let _telemetry = telemetry::init("aauth", true);
            let out = issuer::signing_keys(command).await?;
            crate::out!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
