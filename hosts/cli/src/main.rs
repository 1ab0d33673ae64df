//! The `aauth` command; see the crate README and `aauth --help`.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = aauth_cli::Cli::parse();
    aauth_cli::main_with(cli)
}
