//! Load and floods on loopback (issue 8), bounded so they run in the test suite:
//!
//! - the resource answers `AAUTH_LOAD_REQUESTS` (default 300: debug builds on a busy 2-core machine verify ~20 requests/s) fully verified requests
//!   (`scheme=jwt` with an auth token: two Ed25519 verifications each) at concurrency 64
//!   with zero errors, and the auth server answers a tenth as many (at least 50) token
//!   requests;
//! - floods of unauthenticated requests naming distinct bogus key ids, agent ids and token
//!   issuers keep the discovery cache within its bound and cause no more outbound fetches
//!   than the rules allow (one refetch per minute for unknown kids of a known agent, one
//!   per distinct bogus location, none for untrusted issuers);
//! - a flood of distinct nonces keeps the replay cache at its capacity.
//!
//! The process's resident memory before and after is printed (`--nocapture`), not
//! asserted; the 100 000-request run is documented in `tests/CONFORMANCE.md`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aauth_core::replay::ReplayScope;
use aauth_core::{AuthClaims, KeyScheme, Signer as _, SigningKey, UnixTime};
use aauth_discovery::{DiscoveryConfig, EgressPolicy};

mod support;
use support::*;

const CONCURRENCY: usize = 64;

/// Requests per flood.
const FLOOD: usize = 150;

fn requests() -> usize {
    std::env::var("AAUTH_LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// `VmRSS` of this process in KiB (Linux), for the printed report.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `total` copies of `one` with `CONCURRENCY` in flight; returns the failures.
async fn drive<F, Fut>(total: usize, one: F) -> u64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (one, next, failures) = (one.clone(), next.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= total {
                    break;
                }
                if !one(i).await {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    failures.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_and_issuer_under_load_make_no_errors() {
    let total = requests();
    let budget = std::time::Duration::from_secs(120 + total as u64 / 5);
    tokio::time::timeout(budget, async move {
        let e = Arc::new(Env::start().await);
        let token = e.auth_token().await;
        let jwt = KeyScheme::Jwt { jwt: token }.to_header("sig1").unwrap();
        let rss_before = rss_kib();
        let started = Instant::now();
        let env = e.clone();
        let failures = drive(total, move |_| {
            let (e, jwt) = (env.clone(), jwt.clone());
            async move { e.get("/auth", &jwt, &e.agent_key).await.0 == 200 }
        })
        .await;
        let elapsed = started.elapsed();
        assert_eq!(failures, 0, "resource errors under load");

        let tokens = (total / 10).max(50);
        let env = e.clone();
        let token_failures = drive(tokens, move |_| {
            let e = env.clone();
            async move {
                let rt = e.resource_token(
                    &e.issuer,
                    &e.agent_id,
                    &e.agent_jkt(),
                    "data.read",
                    e.now() + 300,
                );
                e.token_call(&[
                    ("request_type", "auth"),
                    ("resource_token", &rt),
                    ("redirect_uri", &e.callback),
                ])
                .await
                .0 == 200
            }
        })
        .await;
        assert_eq!(token_failures, 0, "auth server errors under load");
        // The warm resource fetched the agent's and issuer's keys once each.
        let s = e.resource_cfg.fetcher().stats();
        assert!(s.jwks_fetches <= 2, "{s:?}");
        println!(
            "load: {total} resource requests at concurrency {CONCURRENCY} in {elapsed:?} \
             ({:.0}/s), {tokens} token requests; RSS {rss_before:?} KiB → {:?} KiB",
            total as f64 / elapsed.as_secs_f64(),
            rss_kib()
        );
    })
    .await
    .expect("load test timed out");
}

/// Sends `FLOOD` requests to `path`, the i-th signed with the agent key under the
/// `Signature-Key` `sk(env, i)`, and asserts every one is refused with 401 `code`.
async fn flood_refused<S>(e: &Arc<Env>, path: &'static str, code: &'static str, sk: S)
where
    S: Fn(&Env, usize) -> String + Send + Sync + 'static,
{
    let (env, sk) = (e.clone(), Arc::new(sk));
    let failures = drive(FLOOD, move |i| {
        let (e, sk) = (env.clone(), sk.clone());
        async move {
            let (s, v) = e.get(path, &sk(&e, i), &e.agent_key).await;
            s == 401 && v["error"] == code
        }
    })
    .await;
    assert_eq!(
        failures, 0,
        "{path}: {failures} of {FLOOD} not refused with {code}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_bogus_identities_stay_bounded() {
    bounded(async {
        let mut config = DiscoveryConfig::default();
        config.max_entries = 64;
        let e = Arc::new(Env::start_with(EgressPolicy::dev(), config).await);
        ok(&e.get("/id", &e.jwks_key(), &e.agent_key).await);
        let warm = e.resource_cfg.fetcher().stats();

        // Distinct bogus kids of the real agent: one refetch of its JWKS within the minute.
        // The signer's key cannot be obtained: `invalid_signature`, not a 5xx.
        flood_refused(&e, "/sig", "invalid_signature", |e, i| {
            e.jwks_key().replace("key-1", &format!("bogus-{i}"))
        })
        .await;
        let s = e.resource_cfg.fetcher().stats();
        assert!(s.jwks_fetches - warm.jwks_fetches <= 1, "{warm:?} → {s:?}");
        assert_eq!(s.metadata_fetches, warm.metadata_fetches, "{s:?}");

        // Bogus agent ids (nothing listens there), each named again and again: one
        // metadata fetch per distinct id (concurrent misses coalesce, the failure is
        // remembered), not one per request. 32 ids fit the 64-entry cache, so none is
        // evicted and fetched twice.
        const REPEATED_IDS: usize = 32;
        let bogus_agent = |id: &str| {
            format!(r#"sig1=(scheme=jwks id="http://127.0.0.1:9/{id}" kid="k" well-known="aauth-agent")"#)
        };
        flood_refused(&e, "/sig", "invalid_signature", move |_, i| {
            bogus_agent(&format!("repeated-{}", i % REPEATED_IDS))
        })
        .await;
        let r = e.resource_cfg.fetcher().stats();
        assert_eq!(
            r.metadata_fetches - s.metadata_fetches,
            REPEATED_IDS as u64,
            "{s:?} → {r:?}"
        );
        assert_eq!(r.jwks_fetches, s.jwks_fetches, "{r:?}");

        // Distinct bogus agent ids, more than the cache holds: the cache stays within its
        // 64 entries, and each id costs one fetch at most.
        flood_refused(&e, "/sig", "invalid_signature", move |_, i| {
            bogus_agent(&format!("agent-{i}"))
        })
        .await;
        let t = e.resource_cfg.fetcher().stats();
        assert!(t.metadata_fetches - r.metadata_fetches <= FLOOD as u64, "{t:?}");
        assert!(e.resource_cfg.fetcher().len() <= 64, "{t:?}");

        // Auth tokens from distinct untrusted issuers: refused before any fetch.
        flood_refused(&e, "/auth", "invalid_auth_token", |e, i| {
            let forged = AuthClaims::new(
                format!("http://127.0.0.1:9/issuer-{i}"),
                e.resource.as_str(),
                e.agent_key.public_jwk(),
                UnixTime::from_secs(e.now() + 300),
            )
            .with_agent(&e.agent_id)
            .sign(&SigningKey::from_seed(&[4; 32]).with_kid("k"))
            .unwrap();
            KeyScheme::Jwt { jwt: forged }.to_header("sig1").unwrap()
        })
        .await;
        let u = e.resource_cfg.fetcher().stats();
        assert_eq!(
            (u.jwks_fetches, u.metadata_fetches),
            (t.jwks_fetches, t.metadata_fetches),
            "untrusted issuers caused fetches"
        );
    })
    .await;
}

/// The replay cache never exceeds its capacity, and never accepts a replay, even of a
/// nonce it had to forget: while it is saturated, signatures as old as the forgotten ones
/// are refused (`invalid_signature`) until their signer signs again, a second later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_flood_keeps_the_replay_cache_bounded_and_safe() {
    bounded(async {
        let e = Arc::new(
            Env::start_configured(EgressPolicy::dev(), DiscoveryConfig::default(), |b| {
                b.replay_protection(ReplayScope::Unsafe, 64)
            })
            .await,
        );
        let with_nonce = r#""@method" "@authority" "@path" "content-type" "content-digest" "nonce" "signature-key""#;
        let request = move |e: &Env, i: usize| {
            let k = SigningKey::from_seed(&[(i % 251) as u8; 32]);
            Raw::post("/sig", "a=1").header("nonce", &format!("{i:0>22}")).signed(
                &e.resource_authority,
                &e.hwk_key(&k),
                &k,
                &e.input(with_nonce),
            )
        };
        let first = request(&e, 0);
        ok(&first.send(&e.http, &e.resource).await);

        let accepted = Arc::new(AtomicU64::new(0));
        let (env, acc) = (e.clone(), accepted.clone());
        let failures = drive(300, move |i| {
            let (e, acc) = (env.clone(), acc.clone());
            async move {
                let (s, v) = request(&e, i + 1).send(&e.http, &e.resource).await;
                match s {
                    200 => {
                        acc.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    401 => v["error_description"]
                        .as_str()
                        .is_some_and(|d| d.contains("saturated")),
                    _ => false,
                }
            }
        })
        .await;
        assert_eq!(failures, 0, "only acceptance or `saturated`");
        assert!(accepted.load(Ordering::Relaxed) >= 63, "{accepted:?}");
        let cache = e.resource_cfg.replay_cache();
        assert!(cache.len() <= cache.capacity(), "{}", cache.len());
        // The first nonce, whether still held or evicted, is never accepted again.
        let (s, v) = first.send(&e.http, &e.resource).await;
        assert_eq!((s, v["error"].as_str()), (401, Some("invalid_signature")), "{v}");
        // A second later, fresh signatures pass again.
        e.clock.advance(1);
        ok(&request(&e, 5_000).send(&e.http, &e.resource).await);
        assert!(cache.len() <= cache.capacity());
    })
    .await;
}
