//! `aauth demo`: agent, two resources and two auth servers on loopback, and the seed flows.
//!
//! Topology (every server on `127.0.0.1:0`):
//! - agent server (metadata, JWKS, `/callback`);
//! - issuer 1 (users `demo:demo` and `testuser:testpass`, default consent policy);
//! - issuer 2 (trusts issuer 1 for token exchange);
//! - resource 1 (auth server = issuer 1, downstream = resource 2 `/data-auth`);
//! - resource 2 (auth server = issuer 2).

use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{
    AgentClient, AgentRequest, AgentServer, CallbackConsent, FormConsent, Identity, Trace,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::CliError;
use crate::cli::{DemoArgs, DemoFlow, UserPass};
use crate::issuer::{self, IssuerOptions};
use crate::keys;
use crate::resource::{self, ResourceOptions};
use crate::serve;

/// Demo options.
#[derive(Clone, Copy, Debug)]
pub struct DemoOptions {
    /// Which flows.
    pub flow: DemoFlow,
    /// Print the consent URL and wait for a browser instead of completing the form.
    pub manual: bool,
}

impl From<&DemoArgs> for DemoOptions {
    fn from(a: &DemoArgs) -> Self {
        Self {
            flow: a.flow,
            manual: a.manual,
        }
    }
}

/// One flow's outcome.
#[derive(Debug)]
pub struct FlowResult {
    /// `autonomous`, `consent` or `exchange`.
    pub name: &'static str,
    /// The URL called.
    pub url: String,
    /// Whether the flow succeeded (status 200 and the expected facts).
    pub ok: bool,
    /// Final status, when a response arrived.
    pub status: Option<u16>,
    /// Final body as JSON.
    pub body: Value,
    /// Every hop.
    pub trace: Option<Trace>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The demo's outcome.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// One entry per selected flow.
    pub flows: Vec<FlowResult>,
    /// The agent identifier.
    pub agent: String,
    /// Issuer 1 and issuer 2.
    pub issuers: [String; 2],
    /// Resource 1 and resource 2.
    pub resources: [String; 2],
}

impl DemoReport {
    /// Every selected flow succeeded.
    pub fn ok(&self) -> bool {
        !self.flows.is_empty() && self.flows.iter().all(|f| f.ok)
    }
}

struct Servers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Servers {
    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

fn spawn(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: &watch::Sender<bool>,
) -> JoinHandle<()> {
    let mut rx = stop.subscribe();
    tokio::spawn(async move {
        let _ = serve::run(listener, router, async move {
            let _ = rx.wait_for(|s| *s).await;
        })
        .await;
    })
}

async fn loopback() -> Result<(tokio::net::TcpListener, String), CliError> {
    let l = serve::bind("127.0.0.1:0").await?;
    let addr = l
        .local_addr()
        .map_err(|e| CliError::io("local address", e))?;
    Ok((l, format!("http://{addr}")))
}

/// Runs the demo; with `print`, writes the trace of every flow and a summary to stdout.
///
/// # Errors
/// [`CliError`] when the servers cannot start. Flow failures are in the report.
pub async fn run(opts: &DemoOptions, print: bool) -> Result<DemoReport, CliError> {
    let dir = tempfile::tempdir().map_err(|e| CliError::io("temporary directory", e))?;
    let (agent_l, agent_id) = loopback().await?;
    let (iss1_l, iss1) = loopback().await?;
    let (iss2_l, iss2) = loopback().await?;
    let (res1_l, res1) = loopback().await?;
    let (res2_l, res2) = loopback().await?;
    let users = vec![
        UserPass {
            name: "demo".into(),
            password: "demo".into(),
        },
        UserPass {
            name: "testuser".into(),
            password: "testpass".into(),
        },
    ];
    let issuer1 = issuer::build(&IssuerOptions {
        id: iss1.clone(),
        db: dir.path().join("issuer1.db").into(),
        trust: vec![],
        consent_prefixes: vec![],
        users: users.clone(),
        dev: true,
        purge_every: None,
    })
    .await?;
    let issuer2 = issuer::build(&IssuerOptions {
        id: iss2.clone(),
        db: dir.path().join("issuer2.db").into(),
        trust: vec![iss1.clone()],
        consent_prefixes: vec![],
        users,
        dev: true,
        purge_every: None,
    })
    .await?;
    let resource1 = resource::build(ResourceOptions {
        id: res1.clone(),
        auth_servers: vec![iss1.clone()],
        downstream: Some(format!("{res2}/data-auth")),
        key: keys::generate("resource-key-1")?,
        dev: true,
    })?;
    let resource2 = resource::build(ResourceOptions {
        id: res2.clone(),
        auth_servers: vec![iss2.clone()],
        downstream: None,
        key: keys::generate("resource-key-1")?,
        dev: true,
    })?;
    let agent_key = Arc::new(keys::generate("key-1")?);
    let agent = AgentServer::new(&agent_id, Arc::clone(&agent_key));

    let (stop, _) = watch::channel(false);
    let tasks = vec![
        spawn(agent_l, crate::agent::router(&agent), &stop),
        spawn(iss1_l, issuer1, &stop),
        spawn(iss2_l, issuer2, &stop),
        spawn(res1_l, resource1, &stop),
        spawn(res2_l, resource2, &stop),
    ];
    let servers = Servers {
        stop,
        tasks,
        _dir: dir,
    };
    if print {
        crate::outln!("AAuth demo on loopback");
        crate::outln!("  agent       {agent_id}");
        crate::outln!("  issuer 1    {iss1}   (user demo / demo)");
        crate::outln!("  issuer 2    {iss2}   (trusts issuer 1)");
        crate::outln!("  resource 1  {res1}   (auth server: issuer 1, downstream: resource 2)");
        crate::outln!("  resource 2  {res2}   (auth server: issuer 2)");
        crate::outln!("");
    }

    let builder = AgentClient::builder(agent_key, Identity::agent_server(&agent_id))
        .propagate(crate::telemetry::propagator())
        .trace(true)
        .timeout(Duration::from_secs(30))
        .egress(aauth_discovery::EgressPolicy::dev());
    let builder = if opts.manual {
        builder.consent(CallbackConsent::new(
            agent.callbacks().clone(),
            Duration::from_secs(600),
            |url: &str| {
                crate::outln!("\n>>> Open this URL in a browser, log in as demo / demo and approve:\n    {url}\n");
            },
        ))
    } else {
        builder.consent(FormConsent::new("demo", "demo"))
    };
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            servers.shutdown().await;
            return Err(e.into());
        }
    };

    let selected: &[&'static str] = match opts.flow {
        DemoFlow::All => &["autonomous", "consent", "exchange"],
        DemoFlow::Autonomous => &["autonomous"],
        DemoFlow::Consent => &["consent"],
        DemoFlow::Exchange => &["exchange"],
    };
    let mut report = DemoReport {
        flows: Vec::new(),
        agent: agent_id.clone(),
        issuers: [iss1.clone(), iss2.clone()],
        resources: [res1.clone(), res2.clone()],
    };
    for (i, name) in selected.iter().enumerate() {
        let path = match *name {
            "autonomous" => "/data-auth",
            "consent" => "/data-user",
            _ => "/data-chain",
        };
        let url = format!("{res1}{path}");
        if print {
            crate::outln!("=== Flow {}: {name} — GET {url}", i + 1);
        }
        let result = run_flow(&client, name, &url, &agent_id, &iss1).await;
        if print {
            print_flow(&result);
        }
        report.flows.push(result);
    }
    servers.shutdown().await;
    if print {
        crate::outln!("=== Summary");
        for f in &report.flows {
            let mark = if f.ok { "ok  " } else { "FAIL" };
            crate::outln!(
                "  [{mark}] {:<10} {}{}",
                f.name,
                f.url,
                f.error
                    .as_deref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            );
        }
        crate::outln!(
            "{}",
            if report.ok() {
                "all flows succeeded"
            } else {
                "some flows FAILED"
            }
        );
    }
    Ok(report)
}

fn print_flow(f: &FlowResult) {
    if let Some(t) = &f.trace {
        crate::out!("{t}");
    }
    if let Some(chain) = f
        .body
        .get("downstream")
        .and_then(|d| d.get("trace"))
        .and_then(Value::as_array)
    {
        crate::outln!("  -- resource 1 -> resource 2 (token exchange), as seen by resource 1:");
        for line in chain {
            crate::outln!("  {}", line.as_str().unwrap_or_default());
        }
    }
    let mut shown = f.body.clone();
    if let Some(d) = shown.get_mut("downstream").and_then(Value::as_object_mut) {
        d.remove("trace");
    }
    crate::outln!(
        "final {}: {}",
        f.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    );
    match &f.error {
        None => crate::outln!("-> {} OK\n", f.name),
        Some(e) => crate::outln!("-> {} FAILED: {e}\n", f.name),
    }
}

async fn run_flow(
    client: &AgentClient,
    name: &'static str,
    url: &str,
    agent: &str,
    iss1: &str,
) -> FlowResult {
    let mut out = FlowResult {
        name,
        url: url.to_owned(),
        ok: false,
        status: None,
        body: Value::Null,
        trace: None,
        error: None,
    };
    let request = match AgentRequest::get(url) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let res = match client.send(request).await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(CliError::from(e).to_string());
            return out;
        }
    };
    out.status = Some(res.status());
    out.trace = res.trace;
    let text = res.response.text().await.unwrap_or_default();
    out.body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    out.error = check(name, out.status, &out.body, agent, iss1).err();
    out.ok = out.error.is_none();
    out
}

/// The facts each flow must show.
fn check(
    name: &str,
    status: Option<u16>,
    b: &Value,
    agent: &str,
    iss1: &str,
) -> Result<(), String> {
    if status != Some(200) {
        return Err(format!("status {status:?}: {b}"));
    }
    let want = |k: &str, v: &str| -> Result<(), String> {
        if b[k] == v {
            Ok(())
        } else {
            Err(format!("{k} = {}, expected {v:?}", b[k]))
        }
    };
    want("scheme", "jwt")?;
    want("token_type", "auth+jwt")?;
    want("agent", agent)?;
    match name {
        "autonomous" => want("scope", resource::DATA_SCOPE),
        "consent" => {
            want("scope", resource::USER_SCOPE)?;
            if b["sub"].is_string() {
                Ok(())
            } else {
                Err("no `sub` (user) in the consented auth token".to_owned())
            }
        }
        _ => {
            let d = &b["downstream"];
            if d["status"] != 200 {
                return Err(format!("downstream status {}: {}", d["status"], d["body"]));
            }
            let act = &d["body"]["act"];
            if act["agent"] != agent {
                return Err(format!("downstream act = {act}, expected agent {agent}"));
            }
            let _ = iss1;
            Ok(())
        }
    }
}
