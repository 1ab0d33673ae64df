//! `token`: the auth server's token endpoint under load. `POST /agent/token` with
//! `request_type=auth` and a resource token asking for `data.read`, which the default
//! consent policy grants autonomously: every request is a full grant (request signature
//! and resource token verified, an auth token signed, a refresh token written to SQLite).
//!
//! The auth server (`aauth-issuer` on a SQLite file in a temporary directory) runs in a
//! child `serve --mode issuer` process, pinned like the `e2e` servers. Requests are signed
//! before the clock starts, one signature per request, replayed within the 60 s `created`
//! window: the auth server keeps no replay cache for token requests (a `Nonce` is not
//! required), so a replayed signed request is a valid one, and the client spends no time
//! on Ed25519 while the server verifies.

use std::sync::Arc;
use std::time::Duration;

use aauth_core::UnixTime;
use serde_json::{Value, json};

use crate::Error;
use crate::e2e::Server;
use crate::fixture::{Signed, resource_token, sign_token_request};
use crate::load::{self, Spec};

/// The knobs of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Measured seconds; at most 50 (the `created` window of the pre-signed requests).
    pub(crate) seconds: u64,
    /// Connections, each with one request in flight.
    pub(crate) concurrency: usize,
    /// Requests at most (the run stops at whichever of count and duration comes first).
    pub(crate) max_requests: u64,
    /// The CPU to pin the auth server to (see `e2e`).
    pub(crate) server_cpu: Option<u32>,
}

/// Distinct signed requests, cycled.
const VARIANTS: usize = 256;

pub(crate) fn run(plan: &Plan) -> Result<(), Error> {
    load::print_measured(plan.seconds, measure(plan)).map(drop)
}

async fn measure(plan: &Plan) -> Result<Value, Error> {
    let server = Server::start("issuer", plan.server_cpu).await?;
    let result = drive(&server, plan).await;
    server.stop().await;
    result
}

async fn drive(server: &Server, plan: &Plan) -> Result<Value, Error> {
    let agent = server.info["agent"].as_str().ok_or("no agent URL")?;
    let now = UnixTime::now();
    let authority = server.addr.to_string();
    let requests = (0..VARIANTS)
        .map(|_| {
            let rt = resource_token(&server.resource, &server.auth, agent, "data.read", now)?;
            sign_token_request(&authority, agent, &rt, now)
        })
        .collect::<Result<Vec<Signed>, Error>>()?;
    // One request by hand: the answer must be a granted auth token (not a consent
    // request), else every 200 below would measure something else.
    let first = send_one(server, &requests[0]).await?;
    if first["auth_token"].as_str().is_none() || first["refresh_token"].as_str().is_none() {
        return Err(format!("the token endpoint did not grant autonomously: {first}").into());
    }
    let requests = Arc::new(requests);
    // Warm-up: connections; metadata and keys were fetched by the first request.
    let warm = Spec {
        addr: server.addr,
        concurrency: plan.concurrency,
        max_requests: 200,
        duration: Duration::from_millis(500),
    };
    load::run(warm, Arc::clone(&requests)).await?;
    let spec = Spec {
        duration: Duration::from_secs(plan.seconds),
        max_requests: plan.max_requests,
        ..warm
    };
    let outcome = load::run(spec, requests).await?;
    let after = server.stats().await?;
    eprintln!(
        "token endpoint: {:.0} req/s, {} errors",
        outcome.per_second(),
        outcome.errors
    );
    Ok(json!({
        "plan": {
            "seconds": plan.seconds,
            "concurrency": plan.concurrency,
            "max_requests": (plan.max_requests != u64::MAX).then_some(plan.max_requests),
            "server_cpu": plan.server_cpu,
            "signatures": "pre-signed before the clock starts; 256 distinct signed requests (each its own resource token) cycled",
            "store": "SQLite file in a temporary directory (WAL, synchronous=FULL)",
        },
        "load": outcome.to_json(),
        "server_after": after,
    }))
}

/// Sends `signed` on a fresh connection and returns the JSON answer of a `200`.
async fn send_one(server: &Server, signed: &Signed) -> Result<Value, Error> {
    let (status, body) = server.send(signed).await?;
    if status != http::StatusCode::OK {
        return Err(format!(
            "token endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok(serde_json::from_slice(&body)?)
}
