//! Command-line definitions (clap derive). Every subcommand and flag has `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `aauth`: AAuth ("Agent Auth") demo, servers and client.
#[derive(Debug, Parser)]
#[command(name = "aauth", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an agent, two resources and two auth servers on loopback and run the seed
    /// flows (autonomous, user consent, token exchange), printing every hop.
    Demo(DemoArgs),
    /// Run one server (issuer, resource or agent) until SIGINT/SIGTERM.
    Serve {
        /// Which server.
        #[command(subcommand)]
        role: ServeCommand,
    },
    /// Send a signed request, follow the `Agent-Auth` challenge, obtain an auth token,
    /// retry and print the body.
    Fetch(FetchArgs),
    /// Key tools.
    Keys {
        /// Key subcommand.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Token tools.
    Token {
        /// Token subcommand.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The auth server's token-signing keys, in its database: list, rotate, retire.
    /// Running servers (every instance on a shared database) pick changes up at their
    /// next request.
    IssuerKeys {
        /// Which operation.
        #[command(subcommand)]
        command: IssuerKeysCommand,
    },
}

/// `aauth issuer-keys …`.
#[derive(Debug, Subcommand)]
pub enum IssuerKeysCommand {
    /// Print every key still published in the JWKS: kid, `active` or `verify-only`, and
    /// creation time (unix seconds).
    List(DatabaseArg),
    /// Generate a new Ed25519 key and make it the active (signing) key; print its kid. The
    /// previous key stays in the JWKS so tokens it signed keep verifying.
    Rotate(DatabaseArg),
    /// Remove a non-active key from the JWKS (once every token it signed has expired).
    Retire {
        /// The database.
        #[command(flatten)]
        db: DatabaseArg,
        /// The key id to retire.
        #[arg(long)]
        kid: String,
    },
}

/// `--db` for the offline key commands.
#[derive(Debug, Args)]
pub struct DatabaseArg {
    /// The auth server's database, as for `aauth serve issuer --db` (default: `issuer.db`
    /// under the user's data directory).
    #[arg(long, env = "AAUTH_DATABASE_URL", value_name = "PATH|URL", value_parser = parse_database, hide_env_values = true)]
    pub db: Option<Database>,
}

/// Which demo flows to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoFlow {
    /// All three flows.
    All,
    /// `/data-auth`: the auth server grants without a user.
    Autonomous,
    /// `/data-user`: the auth server asks a user for consent.
    Consent,
    /// `/data-chain`: resource 1 calls resource 2 with a token exchanged across two auth
    /// servers.
    Exchange,
}

/// `aauth demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The flow(s) to run.
    #[arg(value_enum, default_value = "all")]
    pub flow: DemoFlow,
    /// Print the consent URL for a person to open in a browser (user `demo`, password
    /// `demo`) instead of completing the form automatically.
    #[arg(long)]
    pub manual: bool,
    /// Also print the servers' per-request log lines (stderr).
    #[arg(long)]
    pub log: bool,
}

/// `aauth serve …`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// An auth server: `/.well-known/aauth-issuer`, `/jwks.json`, `POST /agent/token`,
    /// `/agent/auth` (login and consent pages).
    Issuer(IssuerArgs),
    /// A resource with the seed routes `/data-hwk`, `/data-jwks`, `/data-auth`,
    /// `/data-user`, `/data-chain`.
    Resource(ResourceArgs),
    /// An agent server: `/.well-known/aauth-agent`, `/jwks.json`, `/callback`.
    Agent(AgentArgs),
}

/// A `NAME:PASSWORD` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPass {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// Parses `NAME:PASSWORD`.
///
/// # Errors
/// A message when there is no `:` or the name is empty.
pub fn parse_user(s: &str) -> Result<UserPass, String> {
    match s.split_once(':') {
        Some((n, p)) if !n.is_empty() => Ok(UserPass {
            name: n.to_owned(),
            password: p.to_owned(),
        }),
        _ => Err("expected NAME:PASSWORD".to_owned()),
    }
}

/// Where the auth server keeps its state.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created with its directories when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

impl core::fmt::Debug for Database {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// Shows a PostgreSQL URL without its password, so it can be logged.
impl core::fmt::Display for Database {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    f.write_str(u.as_str())
                }
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

/// Parses `--db`: `postgres://…`/`postgresql://…` select PostgreSQL; `sqlite://PATH`,
/// `sqlite:PATH` or a bare path select SQLite.
///
/// # Errors
/// A message for an empty value or another URL scheme.
pub fn parse_database(s: &str) -> Result<Database, String> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(Database::Postgres(s.to_owned()));
    }
    let path = s
        .strip_prefix("sqlite://")
        .or_else(|| s.strip_prefix("sqlite:"))
        .unwrap_or(s);
    if path.is_empty() {
        return Err("expected a SQLite file path or a postgres:// URL".to_owned());
    }
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(format!(
            "unsupported database scheme `{scheme}` (use a file path, sqlite: or postgres://)"
        ));
    }
    Ok(Database::Sqlite(PathBuf::from(path)))
}

/// `aauth serve issuer`.
#[derive(Debug, Args)]
pub struct IssuerArgs {
    /// Address to listen on, e.g. `127.0.0.1:9003`.
    #[arg(long)]
    pub listen: SocketAddr,
    /// The issuer identifier (its public base URL), e.g. `http://127.0.0.1:9003`.
    #[arg(long)]
    pub id: String,
    /// The database: a SQLite file path (or `sqlite:PATH`), or a `postgres://` URL for
    /// several auth server processes sharing one database (default: `issuer.db` under the
    /// user's data directory). Prefer the environment variable for a URL with a password.
    #[arg(long, env = "AAUTH_DATABASE_URL", value_name = "PATH|URL", value_parser = parse_database, hide_env_values = true)]
    pub db: Option<Database>,
    /// An upstream auth server whose auth tokens are accepted for token exchange
    /// (repeatable).
    #[arg(long = "trust", value_name = "URL")]
    pub trust: Vec<String>,
    /// A scope prefix that needs user consent (repeatable; default: `user.`, `profile.`,
    /// `email.` and the scopes `profile`, `email`, `openid`).
    #[arg(long = "consent-scope", value_name = "PREFIX")]
    pub consent_scope: Vec<String>,
    /// Create (or keep) a user for the login page (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub user: Vec<UserPass>,
    /// Seconds between deletions of expired pending requests, codes, sessions and refresh
    /// tokens (0: never). With several instances on one database, any may purge.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub purge_interval: u64,
    /// Allow http and loopback addresses for key discovery (development, tests).
    #[arg(long)]
    pub dev: bool,
}

/// `aauth serve resource`.
#[derive(Debug, Args)]
pub struct ResourceArgs {
    /// Address to listen on, e.g. `127.0.0.1:9002`.
    #[arg(long)]
    pub listen: SocketAddr,
    /// The resource identifier (its public base URL), e.g. `http://127.0.0.1:9002`.
    #[arg(long)]
    pub id: String,
    /// The auth server named in challenges; repeat to trust more auth servers (the first
    /// is named in challenges).
    #[arg(long = "auth-server", value_name = "URL", required = true)]
    pub auth_server: Vec<String>,
    /// The URL `/data-chain` calls with an exchanged token, e.g.
    /// `http://127.0.0.1:9005/data-auth`.
    #[arg(long, value_name = "URL")]
    pub downstream: Option<String>,
    /// The resource's key file (private OKP JWK); default: a fresh key per run.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Allow http and loopback addresses for key discovery and token requests.
    #[arg(long)]
    pub dev: bool,
}

/// `aauth serve agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to listen on, e.g. `127.0.0.1:9001`.
    #[arg(long)]
    pub listen: SocketAddr,
    /// The agent identifier (its public base URL), e.g. `http://127.0.0.1:9001`.
    #[arg(long)]
    pub id: String,
    /// The agent key file (created when missing; default: `agent-key.json` under the
    /// user's data directory, shared with `aauth fetch`).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Development mode (accepted for symmetry; the agent server makes no requests).
    #[arg(long)]
    pub dev: bool,
}

/// How `fetch` identifies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// Pseudonymous: an ephemeral key, `scheme=hwk`.
    Hwk,
    /// Agent server: the agent key, `scheme=jwks`; metadata served on `--agent-id`.
    Jwks,
    /// Agent delegate: an ephemeral key with an agent token minted by the agent key.
    Jwt,
}

/// How `fetch` obtains user consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConsentMode {
    /// Complete the auth server's login and consent form over HTTP with `--user`.
    Auto,
    /// Print the consent URL and wait for the browser to reach the agent's `/callback`.
    Print,
}

/// `aauth fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The resource URL.
    pub url: String,
    /// The request method.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    pub method: String,
    /// The request body (Content-Type defaults to `application/json` when it starts with
    /// `{` or `[`, else `application/x-www-form-urlencoded`; override with `-H`).
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,
    /// An extra request header, `'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub header: Vec<String>,
    /// The signature scheme.
    #[arg(long, value_enum, default_value = "jwks")]
    pub scheme: SchemeArg,
    /// The agent identifier; its agent metadata, JWKS and `/callback` are served on this
    /// URL's address while the command runs (default with `--dev`: a free loopback port).
    #[arg(long = "agent-id", value_name = "URL")]
    pub agent_id: Option<String>,
    /// The agent key file (created when missing; default: `agent-key.json` under the
    /// user's data directory, shared with `aauth serve agent`).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// How to obtain user consent (default: `auto` when `--user` is given, else `print`).
    #[arg(long, value_enum)]
    pub consent: Option<ConsentMode>,
    /// The user for `--consent auto`.
    #[arg(long, value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub user: Option<UserPass>,
    /// Print every hop (signature headers, challenge, decoded tokens) to stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Seconds to wait for each HTTP request and for the consent callback.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Allow http and loopback addresses (development, tests).
    #[arg(long)]
    pub dev: bool,
}

/// `aauth keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new private Ed25519 JWK (with `d`).
    Generate {
        /// Also write it to this file (permissions 0600).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The key id.
        #[arg(long, default_value = "key-1")]
        kid: String,
    },
}

/// `aauth token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a JWT's header and payload (never verified) and its expiry in human terms.
    Decode {
        /// The compact JWT.
        token: String,
    },
}
