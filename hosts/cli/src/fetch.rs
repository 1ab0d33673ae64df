//! `aauth fetch`: sign, follow the challenge, obtain the auth token, retry, print.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{
    AgentClient, AgentRequest, AgentServer, CallbackConsent, FormConsent, Identity, Trace,
};
use aauth_core::Signer as _;
use aauth_discovery::EgressPolicy;
use tokio::task::JoinHandle;
use url::Url;

use crate::CliError;
use crate::cli::{ConsentMode, FetchArgs, SchemeArg, UserPass};
use crate::keys;
use crate::serve;

/// Everything `fetch` needs.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The resource URL.
    pub url: String,
    /// The method.
    pub method: String,
    /// The body, if any.
    pub body: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The signature scheme.
    pub scheme: SchemeArg,
    /// The agent identifier (`jwks`/`jwt`); `None` = a free loopback port (`--dev` only).
    pub agent_id: Option<String>,
    /// The agent key file.
    pub key_file: PathBuf,
    /// How to obtain consent.
    pub consent: ConsentMode,
    /// The user for `ConsentMode::Auto`.
    pub user: Option<UserPass>,
    /// Print every hop to stderr.
    pub verbose: bool,
    /// HTTP and consent timeout.
    pub timeout: Duration,
    /// Development egress policy.
    pub dev: bool,
}

impl FetchOptions {
    /// Options for `url` with defaults: `GET`, `jwks`, default key file, consent `print`
    /// (or `auto` with `user`), 120 s timeout, not verbose, not dev.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: "GET".to_owned(),
            body: None,
            headers: Vec::new(),
            scheme: SchemeArg::Jwks,
            agent_id: None,
            key_file: keys::default_agent_key_file(),
            consent: ConsentMode::Print,
            user: None,
            verbose: false,
            timeout: Duration::from_secs(120),
            dev: false,
        }
    }
}

impl TryFrom<FetchArgs> for FetchOptions {
    type Error = CliError;

    fn try_from(a: FetchArgs) -> Result<Self, CliError> {
        let headers = a
            .header
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(n, _)| !n.is_empty())
                    .ok_or_else(|| CliError::usage(format!("-H {h:?}: expected 'Name: value'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let consent = a.consent.unwrap_or_else(|| {
            if a.user.is_some() {
                ConsentMode::Auto
            } else {
                ConsentMode::Print
            }
        });
        if consent == ConsentMode::Auto && a.user.is_none() {
            return Err(CliError::usage("--consent auto needs --user NAME:PASSWORD"));
        }
        Ok(Self {
            url: a.url,
            method: a.method.to_ascii_uppercase(),
            body: a.data,
            headers,
            scheme: a.scheme,
            agent_id: a.agent_id,
            key_file: a.key.unwrap_or_else(keys::default_agent_key_file),
            consent,
            user: a.user,
            verbose: a.verbose,
            timeout: Duration::from_secs(a.timeout.max(1)),
            dev: a.dev,
        })
    }
}

/// The result of a fetch.
#[derive(Debug)]
pub struct FetchOutcome {
    /// Final HTTP status.
    pub status: u16,
    /// Final body.
    pub body: String,
    /// Every hop.
    pub trace: Option<Trace>,
    /// The agent identifier used (`jwks`/`jwt`).
    pub agent_id: Option<String>,
}

impl FetchOutcome {
    /// The body as JSON (`Value::String` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| serde_json::Value::String(self.body.clone()))
    }

    /// `0` for a 2xx status, `1` otherwise.
    pub fn exit_code(&self) -> ExitCode {
        if (200..300).contains(&self.status) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

struct AgentHost {
    server: AgentServer,
    task: JoinHandle<()>,
}

impl Drop for AgentHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_agent(opts: &FetchOptions, policy: &EgressPolicy) -> Result<AgentHost, CliError> {
    let key = Arc::new(keys::load_or_create(&opts.key_file)?);
    let (listener, id) = match &opts.agent_id {
        Some(id) => {
            policy.check_url(id).map_err(|e| {
                CliError::usage(format!(
                    "--agent-id {id}: {e} (use --dev for http/loopback)"
                ))
            })?;
            let url =
                Url::parse(id).map_err(|e| CliError::usage(format!("--agent-id {id}: {e}")))?;
            let host = url
                .host_str()
                .ok_or_else(|| CliError::usage(format!("--agent-id {id}: no host")))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = url
                .port_or_known_default()
                .ok_or_else(|| CliError::usage(format!("--agent-id {id}: no port")))?;
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .map_err(|e| {
                    CliError::usage(format!(
                        "--agent-id {id}: cannot serve the agent metadata there: {e}"
                    ))
                })?;
            (listener, id.trim_end_matches('/').to_owned())
        }
        None if opts.dev => {
            let listener = serve::bind("127.0.0.1:0").await?;
            let addr = listener
                .local_addr()
                .map_err(|e| CliError::io("local address", e))?;
            (listener, format!("http://{addr}"))
        }
        None => {
            return Err(CliError::usage(
                "--scheme jwks/jwt needs --agent-id URL (or --dev for a loopback agent)",
            ));
        }
    };
    let server = AgentServer::new(id, key);
    let router = crate::agent::router(&server);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(AgentHost { server, task })
}

/// Runs the fetch without printing.
///
/// # Errors
/// [`CliError`] on bad options or a protocol failure (with its error code).
pub async fn fetch(opts: &FetchOptions) -> Result<FetchOutcome, CliError> {
    let policy = if opts.dev {
        EgressPolicy::dev()
    } else {
        EgressPolicy::default()
    };
    policy
        .check_url(&opts.url)
        .map_err(|e| CliError::usage(format!("{}: {e} (use --dev for http/loopback)", opts.url)))?;
    let method = reqwest::Method::from_bytes(opts.method.as_bytes())
        .map_err(|_| CliError::usage(format!("bad method {:?}", opts.method)))?;
    let url = Url::parse(&opts.url).map_err(|e| CliError::usage(format!("{}: {e}", opts.url)))?;

    let mut host = None;
    let (key, identity) = match opts.scheme {
        SchemeArg::Hwk => (
            Arc::new(keys::generate("ephemeral")?),
            Identity::Pseudonymous,
        ),
        SchemeArg::Jwks => {
            let h = start_agent(opts, &policy).await?;
            let id = Identity::agent_server(h.server.id());
            let key = Arc::new(keys::load_or_create(&opts.key_file)?);
            host = Some(h);
            (key, id)
        }
        SchemeArg::Jwt => {
            let h = start_agent(opts, &policy).await?;
            let delegate = keys::generate("delegate-1")?;
            let token = h
                .server
                .mint_agent_token(
                    "aauth-cli-delegate",
                    delegate.public_jwk(),
                    Duration::from_secs(3600),
                )
                .map_err(CliError::from)?;
            host = Some(h);
            (Arc::new(delegate), Identity::delegate(token))
        }
    };

    // The auth server and token endpoint come from the resource's challenge: hold them to
    // the same egress policy as the target.
    let mut builder = AgentClient::builder(key, identity)
        .propagate(crate::telemetry::propagator())
        .trace(true)
        .timeout(opts.timeout)
        .egress(policy.clone());
    match (opts.consent, &host) {
        (ConsentMode::Auto, _) => {
            let u = opts
                .user
                .as_ref()
                .ok_or_else(|| CliError::usage("--consent auto needs --user NAME:PASSWORD"))?;
            builder = builder.consent(FormConsent::new(&u.name, &u.password));
        }
        (ConsentMode::Print, Some(h)) => {
            builder = builder.consent(CallbackConsent::new(
                h.server.callbacks().clone(),
                opts.timeout,
                |url: &str| {
                    eprintln!("Open this URL in a browser to log in and consent:\n  {url}");
                },
            ));
        }
        (ConsentMode::Print, None) => {}
    }
    let client = builder.build().map_err(CliError::from)?;
    let mut request = AgentRequest::new(method, url);
    let mut content_type = None;
    for (n, v) in &opts.headers {
        if n.eq_ignore_ascii_case("content-type") {
            content_type = Some(v.clone());
        } else {
            request = request.header(n.clone(), v.clone());
        }
    }
    if let Some(body) = &opts.body {
        let ct = content_type.unwrap_or_else(|| {
            if body.trim_start().starts_with(['{', '[']) {
                "application/json".to_owned()
            } else {
                "application/x-www-form-urlencoded".to_owned()
            }
        });
        request = request.body(&ct, body.clone().into_bytes());
    } else if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let res = client.send(request).await?;
    let status = res.status();
    let trace = res.trace;
    let body = res
        .response
        .text()
        .await
        .map_err(|e| CliError::Protocol(format!("reading the response body: {e}")))?;
    Ok(FetchOutcome {
        status,
        body,
        trace,
        agent_id: host.as_ref().map(|h| h.server.id().to_owned()),
    })
}

/// Runs the fetch and prints: the body on stdout; with `verbose`, every hop on stderr; on a
/// non-2xx status, the status and the protocol error on stderr.
///
/// # Errors
/// As [`fetch`].
pub async fn run(opts: &FetchOptions) -> Result<FetchOutcome, CliError> {
    let outcome = fetch(opts).await?;
    if opts.verbose
        && let Some(t) = &outcome.trace
    {
        eprint!("{t}");
    }
    crate::outln!("{}", outcome.body);
    if !(200..300).contains(&outcome.status) {
        let v = outcome.json();
        let code = v.get("error").and_then(|e| e.as_str()).unwrap_or("");
        let desc = v
            .get("error_description")
            .and_then(|e| e.as_str())
            .unwrap_or("");
        eprintln!("aauth: HTTP {} {code} {desc}", outcome.status);
    }
    Ok(outcome)
}
