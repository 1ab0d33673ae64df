//! `aauth demo all` in-process: every flow succeeds with the expected token facts.

use aauth_cli::cli::DemoFlow;
use aauth_cli::demo::{DemoOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_all_succeeds() {
    aauth_cli::init_tls();
    let report = run(
        &DemoOptions {
            flow: DemoFlow::All,
            manual: false,
        },
        false,
    )
    .await
    .expect("servers start");
    for f in &report.flows {
        assert!(f.ok, "{} failed: {:?} {}", f.name, f.error, f.body);
    }
    assert!(report.ok());
    assert_eq!(report.flows.len(), 3);

    // Autonomous: an auth token for the agent, no user.
    let auto = &report.flows[0];
    assert_eq!(auto.body["scope"], "data.read data.write");
    assert_eq!(auto.body["agent"], report.agent.as_str());
    assert!(auto.body["sub"].is_null());
    let trace = auto.trace.as_ref().expect("trace");
    let token = trace
        .hops
        .iter()
        .rev()
        .find_map(|h| h.auth_token.clone())
        .expect("auth token in trace");
    assert_eq!(token["header"]["typ"], "auth+jwt");
    assert_eq!(token["payload"]["iss"], report.issuers[0].as_str());
    assert_eq!(token["payload"]["aud"], report.resources[0].as_str());
    assert_eq!(token["payload"]["agent"], report.agent.as_str());

    // Consent: the token names the user.
    let consent = &report.flows[1];
    assert_eq!(consent.body["scope"], "user.read");
    assert!(consent.body["sub"].is_string());

    // Exchange: resource 2 sees resource 1 as agent, acting for our agent.
    let chain = &report.flows[2];
    let down = &chain.body["downstream"];
    assert_eq!(down["status"], 200);
    assert_eq!(down["body"]["agent"], report.resources[0].as_str());
    assert_eq!(down["body"]["act"]["agent"], report.agent.as_str());
}
