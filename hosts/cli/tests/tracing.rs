//! Distributed tracing across hops: an auth server and a resource run as `aauth serve`
//! processes and the agent as `aauth fetch`, all three exporting spans over OTLP/HTTP
//! (JSON) to a receiver inside this test, configured only by the standard `OTEL_*`
//! environment variables. The autonomous flow (resource 401 → token request → retry) must
//! be one trace: the servers' request spans are children of the agent's hop spans through
//! `traceparent`, and the verification, key discovery and issuance spans nest inside.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

/// One exported span, flattened from OTLP/JSON.
#[derive(Clone, Debug)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

type Received = Arc<Mutex<Vec<Span>>>;

/// `POST /v1/traces` with an `ExportTraceServiceRequest` in OTLP/JSON.
async fn receive(
    State(store): State<Received>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], &'static str) {
    let v: Value = serde_json::from_slice(&body).expect("OTLP/JSON body");
    let mut out = store.lock().unwrap();
    for rs in v["resourceSpans"].as_array().into_iter().flatten() {
        let service = attributes(&rs["resource"]["attributes"])
            .remove("service.name")
            .unwrap_or_default();
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                out.push(Span {
                    service: service.clone(),
                    name: s["name"].as_str().unwrap_or_default().to_owned(),
                    trace_id: s["traceId"].as_str().unwrap_or_default().to_owned(),
                    span_id: s["spanId"].as_str().unwrap_or_default().to_owned(),
                    parent_span_id: s["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                    attributes: attributes(&s["attributes"]),
                });
            }
        }
    }
    ([("content-type", "application/json")], "{}")
}

/// OTLP `KeyValue`s as strings (`stringValue`, `intValue`, `boolValue`).
fn attributes(v: &Value) -> HashMap<String, String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let key = kv["key"].as_str()?.to_owned();
            let val = &kv["value"];
            let s = val["stringValue"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| val["intValue"].as_str().map(str::to_owned))
                .or_else(|| val["intValue"].as_i64().map(|i| i.to_string()))
                .or_else(|| val["boolValue"].as_bool().map(|b| b.to_string()))
                .unwrap_or_default();
            Some((key, s))
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn aauth(home: &std::path::Path, collector: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aauth"));
    c.env("AAUTH_HOME", home)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null());
    c
}

/// A server process, stopped with SIGTERM (so it flushes its spans) on drop.
struct Server(Child);

impl Server {
    fn start(mut cmd: Command, port: u16) -> Self {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut s = Self(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.0.try_wait() {
                panic!("server exited: {st}");
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn stop(mut self) {
        terminate(&mut self.0);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

fn terminate(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_agent_resource_and_auth_server() {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let home = tempfile::tempdir().unwrap();
    let (ip, rp) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{ip}");
    let resource = format!("http://127.0.0.1:{rp}");

    let collector2 = collector.clone();
    let home_path = home.path().to_owned();
    let (issuer2, resource2) = (issuer.clone(), resource.clone());
    let fetch = tokio::task::spawn_blocking(move || {
        let mut cmd = aauth(&home_path, &collector2);
        cmd.args([
            "serve",
            "issuer",
            "--listen",
            &format!("127.0.0.1:{ip}"),
            "--id",
            &issuer2,
        ])
        .arg("--db")
        .arg(home_path.join("issuer.db"))
        .arg("--dev");
        let issuer_proc = Server::start(cmd, ip);
        let mut cmd = aauth(&home_path, &collector2);
        cmd.args([
            "serve",
            "resource",
            "--listen",
            &format!("127.0.0.1:{rp}"),
            "--id",
            &resource2,
            "--auth-server",
            &issuer2,
            "--dev",
        ]);
        let resource_proc = Server::start(cmd, rp);
        let out = aauth(&home_path, &collector2)
            .args(["fetch", &format!("{resource2}/data-auth"), "--dev"])
            .output()
            .expect("run fetch");
        resource_proc.stop();
        issuer_proc.stop();
        out
    })
    .await
    .unwrap();
    assert!(
        fetch.status.success(),
        "fetch failed: {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    assert!(String::from_utf8_lossy(&fetch.stdout).contains("Access granted"));

    // Every process flushed at exit; wait for the receiver to have all three services.
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans = received.lock().unwrap().clone();
        let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        if ["aauth-agent", "aauth-resource", "aauth-issuer"]
            .iter()
            .all(|s| services.contains(s))
        {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans received: {spans:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The agent's root span names the trace.
    let root = spans
        .iter()
        .find(|s| s.service == "aauth-agent" && s.name == "aauth.fetch")
        .unwrap_or_else(|| panic!("no aauth.fetch span: {spans:#?}"));
    assert!(root.parent_span_id.is_empty(), "the fetch span is the root");
    let trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    let by_id: HashMap<&str, &Span> = trace.iter().map(|s| (s.span_id.as_str(), *s)).collect();
    let in_trace = |service: &str, name: &str| -> Vec<&Span> {
        trace
            .iter()
            .copied()
            .filter(|s| s.service == service && s.name.starts_with(name))
            .collect()
    };

    // Agent: resource (401), token (auth), retry (200) hops, children of the root.
    let hops = in_trace("aauth-agent", "aauth ");
    let steps: Vec<(&str, &str)> = hops
        .iter()
        .map(|h| {
            (
                h.attributes.get("aauth.step").map_or("", String::as_str),
                h.attributes
                    .get("http.response.status_code")
                    .map_or("", String::as_str),
            )
        })
        .collect();
    for want in [("resource", "401"), ("retry", "200")] {
        assert!(steps.contains(&want), "{want:?} not in {steps:?}");
    }
    assert!(
        steps
            .iter()
            .any(|(s, c)| s.starts_with("token") && *c == "200"),
        "no token hop in {steps:?}"
    );
    for h in &hops {
        assert_eq!(h.parent_span_id, root.span_id, "hop {h:?}");
    }

    // Resource: both requests (challenge and retry) continue the agent's hops; the
    // verification span nests in the retry.
    let resource_requests = in_trace("aauth-resource", "resource GET /data-auth");
    assert_eq!(resource_requests.len(), 2, "{trace:#?}");
    for r in &resource_requests {
        let parent = by_id
            .get(r.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("resource span without a parent in the trace: {r:?}"));
        assert_eq!(parent.service, "aauth-agent");
        assert!(parent.name.starts_with("aauth "), "{parent:?}");
    }
    let verifies = in_trace("aauth-resource", "aauth.verify");
    assert!(!verifies.is_empty(), "{trace:#?}");
    for v in &verifies {
        let parent = by_id[v.parent_span_id.as_str()];
        assert_eq!(parent.service, "aauth-resource");
    }

    // Auth server: the token request continues the agent's token hop; issuance and the key
    // discovery it needed (the resource's and the agent's JWKS) nest inside.
    let token_requests = in_trace("aauth-issuer", "issuer POST /agent/token");
    assert_eq!(token_requests.len(), 1, "{trace:#?}");
    let token_request = token_requests[0];
    let hop = by_id[token_request.parent_span_id.as_str()];
    assert_eq!(hop.service, "aauth-agent");
    assert!(hop.attributes["aauth.step"].starts_with("token"), "{hop:?}");
    let issuance = in_trace("aauth-issuer", "aauth.token");
    assert_eq!(issuance.len(), 1, "{trace:#?}");
    assert_eq!(issuance[0].parent_span_id, token_request.span_id);
    assert_eq!(issuance[0].attributes["aauth.request_type"], "auth");
    let fetches = in_trace("aauth-issuer", "aauth.discovery.fetch");
    assert!(
        !fetches.is_empty(),
        "the issuer discovered keys: {trace:#?}"
    );
    for f in &fetches {
        let mut up = f;
        while up.span_id != issuance[0].span_id {
            up = by_id
                .get(up.parent_span_id.as_str())
                .unwrap_or_else(|| panic!("discovery span outside issuance: {f:?}"));
        }
    }
}
