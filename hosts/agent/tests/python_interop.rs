//! Interop against the Python reference peers (`aauth` 0.1.0, digest §2.11;
//! python-reference-notes §7): our client and agent server against the reference resource
//! (:8002), auth server (:8003) and the exchange pair (:8004, :8005).
//!
//! Needs `python3` with `venv`/`pip` (the harness `setup.sh` installs the reference into
//! `~/.cache/aauth-python-peers`). Set `AAUTH_SKIP_PYTHON=1` to skip; otherwise it runs
//! and fails when the peers cannot be started. `AAUTH_PYTHON_REF` overrides the harness
//! directory (default `../shared/interop/python-ref` next to the checkout).

use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{
    AgentClient, AgentError, AgentRequest, AgentServer, FormConsent, Identity, generate_signing_key,
};
use aauth_core::Signer;
use aauth_pyref_peers::{Harness, StandardPeers, skip_requested};
use serde_json::Value;

const RESOURCE: &str = StandardPeers::RESOURCE;

async fn json(res: aauth_agent::AgentResponse) -> (u16, Value) {
    let status = res.status();
    let text = res.response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reference_peers() {
    if skip_requested("python_reference_peers") {
        return;
    }
    // Stopped at the end only if this test started them (others may share the peers).
    let harness = Harness::from_env();
    let _peers =
        tokio::task::block_in_place(|| harness.start_standard()).unwrap_or_else(|e| panic!("{e}"));

    // Our agent server on a free loopback port (never 8001-8005).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let id = format!("http://{}", listener.local_addr().expect("addr"));
    let key = Arc::new(generate_signing_key("key-1").expect("key"));
    let server = AgentServer::new(&id, Arc::clone(&key));
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let client = AgentClient::builder(Arc::clone(&key), Identity::agent_server(&id))
        .consent(FormConsent::new("testuser", "testpass"))
        .trace(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    // Autonomous: 401 + resource token -> auth token from :8003 -> 200.
    let res = client
        .send(AgentRequest::get(&format!("{RESOURCE}/data-auth")).expect("url"))
        .await
        .expect("data-auth");
    if let Some(t) = &res.trace {
        eprintln!("--- /data-auth trace ---\n{t}");
    }
    let (status, body) = json(res).await;
    eprintln!("/data-auth {status} {body}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheme"], "jwt");
    assert_eq!(body["token_type"], "auth+jwt");
    assert_eq!(body["agent"], id.as_str());
    assert_eq!(body["scope"], "data.read data.write");

    // Cached: the second call goes straight to 200 with no token request.
    let res = client
        .send(AgentRequest::get(&format!("{RESOURCE}/data-auth")).expect("url"))
        .await
        .expect("data-auth again");
    let hops = res.trace.as_ref().map_or(0, |t| t.hops.len());
    assert_eq!((res.status(), hops), (200, 1));

    // User consent: the resource token asks for user.read; FormConsent logs in and grants.
    let res = client
        .send(
            AgentRequest::get(&format!("{RESOURCE}/data-user"))
                .expect("url")
                .scope("user.read"),
        )
        .await
        .expect("data-user");
    if let Some(t) = &res.trace {
        eprintln!("--- /data-user trace ---\n{t}");
    }
    let (status, body) = json(res).await;
    eprintln!("/data-user {status} {body}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheme"], "jwt");
    assert_eq!(body["token_type"], "auth+jwt");
    assert_eq!(body["agent"], id.as_str());
    assert_eq!(body["sub"], "testuser");
    assert_eq!(body["scope"], "user.read");

    // Chain (reusing the cached /data-auth token): the resource exchanges it at :8004 and
    // calls :8005 with the exchanged token.
    let res = client
        .send(AgentRequest::get(&format!("{RESOURCE}/data-chain")).expect("url"))
        .await
        .expect("data-chain");
    let (status, body) = json(res).await;
    eprintln!("/data-chain {status} {body}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheme"], "jwt");
    assert_eq!(body["agent"], id.as_str());
    let downstream = &body["downstream"];
    assert_eq!(downstream["status"], 200, "{downstream}");
    assert_eq!(downstream["body"]["token_type"], "auth+jwt");
    assert_eq!(downstream["body"]["agent"], RESOURCE);
    assert_eq!(downstream["body"]["act"]["agent"], id.as_str());
    assert_eq!(
        downstream["exchanged_token"]["payload"]["act"]["agent"],
        id.as_str()
    );

    // Delegate: an agent token minted by our server for a fresh delegate key.
    let delegate_key = Arc::new(generate_signing_key("delegate-1").expect("key"));
    let agent_token = server
        .mint_agent_token(
            "delegate-instance-1",
            delegate_key.public_jwk(),
            Duration::from_secs(600),
        )
        .expect("mint");
    let delegate = AgentClient::builder(delegate_key, Identity::delegate(agent_token))
        .build()
        .expect("delegate client");
    assert_eq!(
        delegate.redirect_uri(),
        Some(format!("{id}/callback").as_str())
    );
    let res = delegate
        .send(AgentRequest::get(&format!("{RESOURCE}/data-auth")).expect("url"))
        .await
        .expect("delegate data-auth");
    let (status, body) = json(res).await;
    eprintln!("/data-auth (delegate) {status} {body}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["agent"], id.as_str());
    assert_eq!(body["agent_delegate"], "delegate-instance-1");

    // Pseudonymous client on an identity route: a clear error, not a loop.
    let anon_key = Arc::new(generate_signing_key("anon").expect("key"));
    let anon = AgentClient::builder(anon_key, Identity::Pseudonymous)
        .build()
        .expect("anon client");
    let res = anon
        .send(AgentRequest::get(&format!("{RESOURCE}/data-hwk")).expect("url"))
        .await
        .expect("data-hwk");
    let (status, body) = json(res).await;
    eprintln!("/data-hwk (hwk) {status} {body}");
    assert_eq!(status, 200);
    assert_eq!(body["scheme"], "hwk");
    let err = anon
        .send(AgentRequest::get(&format!("{RESOURCE}/data-jwks")).expect("url"))
        .await
        .expect_err("identity required");
    eprintln!("/data-jwks (hwk) -> {err}");
    assert!(
        matches!(err, AgentError::IdentityRequired { .. }),
        "{err:?}"
    );
}
