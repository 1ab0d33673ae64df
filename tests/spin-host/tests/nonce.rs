//! The `Nonce` replay check of the `aauth-spin` component (digest L§10.5, checklist L-08):
//! every request runs in a fresh instance (as in Spin), so what refuses a replay is the
//! key-value store the host shares between them, through `wasi:keyvalue` (the component's
//! `spin` build). Requests are signed by hand with `hwk` keys on a `signature` route, so no
//! key server is involved, and sent byte for byte again to replay them.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::{KeyScheme, RequestParts, Signer, SigningKey, UnixTime};
use aauth_spin_host_tests::{GuestClock, KvBackend, Runtime, runtime, serve_with, spin_runtime};
use serde_json::Value;
use tokio::net::TcpListener;

const SEED: &str = "0303030303030303030303030303030303030303030303030303030303030303";
const N1: &str = "Y3VyaW91c2x5Y3VyaW91cw";
const N2: &str = "bm90LXRoZS1zYW1lLW5vbmNl";
const N3: &str = "dGhpcmQtbm9uY2UtaGVyZQ";
const N4: &str = "Zm91cnRoLW5vbmNlLWhlcmU";

/// Serves `rt`'s component on a fresh loopback port (a new instance per request) with
/// `kv` behind its key-value stores, `clock` as its wall clock and `/data-hwk` needing a
/// signature; `extra` adds environment variables. Returns its base URL.
async fn start(
    rt: &'static Runtime,
    kv: &Arc<KvBackend>,
    clock: &GuestClock,
    extra: &[(&str, &str)],
) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let env = [
        ("AAUTH_RESOURCE_ID", base.as_str()),
        ("AAUTH_AUTH_SERVERS", "http://127.0.0.1:1"),
        ("AAUTH_ROUTES", "/data-hwk=signature"),
        ("AAUTH_RESOURCE_KEY_SEED", SEED),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    serve_with(rt, env, Vec::new(), Arc::clone(kv), clock.clone(), l)
        .await
        .unwrap();
    base
}

/// The `spin` build (it has the shared store), built and compiled once per process.
fn spin() -> &'static Runtime {
    tokio::task::block_in_place(spin_runtime)
}

/// A request to `/data-hwk` signed once, at the time `clock` shows, with `Nonce: nonce`
/// when given (covered by the signature); [`Signed::send`] sends it as often as asked.
struct Signed {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
}

fn signed(
    base: &str,
    method: &str,
    nonce: Option<&str>,
    key: &SigningKey,
    clock: &GuestClock,
) -> Signed {
    let nonces: Vec<&str> = nonce.into_iter().collect();
    signed_with(base, method, &nonces, key, clock)
}

/// [`signed`] with one `Nonce` field per entry of `nonces`.
fn signed_with(
    base: &str,
    method: &str,
    nonces: &[&str],
    key: &SigningKey,
    clock: &GuestClock,
) -> Signed {
    let sk = KeyScheme::Hwk(key.public_jwk()).to_header("sig1").unwrap();
    let fields: Vec<(&str, &[u8])> = nonces.iter().map(|n| ("nonce", n.as_bytes())).collect();
    let parts = RequestParts::new(
        method,
        base.trim_start_matches("http://"),
        "/data-hwk",
        &fields,
    )
    .with_scheme("http");
    let created = UnixTime::from_secs(clock.now().as_secs());
    let sig = sign_request(&parts, &sk, key, &SignOptions::new(created)).unwrap();
    let mut headers: Vec<(String, String)> = sig
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    headers.extend(nonces.iter().map(|n| ("nonce".to_owned(), (*n).to_owned())));
    Signed {
        method: method.parse().unwrap(),
        url: format!("{base}/data-hwk"),
        headers,
    }
}

impl Signed {
    /// Status, `Agent-Auth` header and JSON body.
    async fn send(&self) -> (u16, Option<String>, Value) {
        let mut req = http().request(self.method.clone(), &self.url);
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        let resp = tokio::time::timeout(Duration::from_secs(60), req.send())
            .await
            .expect("the component answers within 60 s")
            .unwrap();
        let status = resp.status().as_u16();
        let agent_auth = resp
            .headers()
            .get("agent-auth")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, agent_auth, resp.json().await.unwrap_or(Value::Null))
    }
}

/// One HTTP client for the process (reqwest needs a rustls provider installed first).
fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    })
}

/// The replay check's keys in store `default`: (counters `aauth-nonce/<hex>`, index
/// entries `aauth-nonce/<bucket>/<hex>`, sweep counters `aauth-nonce/<period>/sweep`).
fn nonce_keys(kv: &KvBackend) -> (Vec<String>, Vec<String>, Vec<String>) {
    let hex = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    let num = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    let (mut counters, mut index, mut sweep) = (Vec::new(), Vec::new(), Vec::new());
    for (k, _) in kv.entries("default") {
        let Some(rest) = k.strip_prefix("aauth-nonce/") else {
            continue;
        };
        match rest.split_once('/') {
            None if hex(rest) => counters.push(k),
            Some((b, "sweep")) if num(b) => sweep.push(k),
            Some((b, h)) if num(b) && hex(h) => index.push(k),
            _ => {}
        }
    }
    (counters, index, sweep)
}

/// The counters of the host's `wasi:keyvalue` calls: (opens, increments, lists).
fn calls(kv: &KvBackend) -> (usize, usize, usize) {
    (
        kv.opens.load(Ordering::SeqCst),
        kv.increments.load(Ordering::SeqCst),
        kv.lists.load(Ordering::SeqCst),
    )
}

/// The refusal of a replay: what aauth-tower answers (401 `invalid_signature`,
/// `Agent-Auth: httpsig`).
fn assert_replayed((status, agent_auth, body): &(u16, Option<String>, Value)) {
    assert_eq!(*status, 401, "{body}");
    assert_eq!(body["error"], "invalid_signature", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("replayed request")),
        "{body}"
    );
    assert_eq!(agent_auth.as_deref(), Some("httpsig"));
}

/// A signed POST with a `Nonce` passes once; the identical request sent again, to another
/// fresh instance, is refused as a replay; another nonce, or the same nonce under another
/// key, passes. Also measures the store calls per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_post_is_refused_across_instances() {
    let rt = spin();
    let kv = KvBackend::new(&["default"]);
    let clock = GuestClock::default();
    let base = start(rt, &kv, &clock, &[]).await;
    let key = SigningKey::from_seed(&[21; 32]);
    align(&clock);

    let first = signed(&base, "POST", Some(N1), &key, &clock);
    let before = calls(&kv);
    let (s, _, v) = first.send().await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["method"], "POST");
    let after_first = calls(&kv);
    let replay = first.send().await;
    assert_replayed(&replay);
    let after_replay = calls(&kv);
    println!(
        "wasi:keyvalue calls (open, increment, list-keys): accepted {:?}, replay {:?}",
        diff(after_first, before),
        diff(after_replay, after_first)
    );
    // Accepted: open + counter + index entry + the period's sweep counter (the first in the
    // period also lists the store once). Replay: open + counter.
    assert_eq!(diff(after_first, before), (1, 3, 1));
    assert_eq!(diff(after_replay, after_first), (1, 1, 0));
    let (counters, index, sweep) = nonce_keys(&kv);
    assert_eq!((counters.len(), index.len(), sweep.len()), (1, 1, 1));

    // Re-signed later with the same nonce: the same use, still refused (as aauth-tower).
    clock.advance(Duration::from_secs(5));
    assert_replayed(&signed(&base, "POST", Some(N1), &key, &clock).send().await);

    // Another nonce passes (no sweep: the period has one), and its replay is refused.
    let second = signed(&base, "POST", Some(N2), &key, &clock);
    let before = calls(&kv);
    assert_eq!(second.send().await.0, 200);
    assert_eq!(diff(calls(&kv), before), (1, 3, 0));
    assert_replayed(&second.send().await);

    // The same nonce under another key is another use.
    let other = SigningKey::from_seed(&[22; 32]);
    assert_eq!(
        signed(&base, "POST", Some(N1), &other, &clock)
            .send()
            .await
            .0,
        200
    );
    // Requests without a Nonce never touch the store.
    let before = calls(&kv);
    let plain = signed(&base, "POST", None, &key, &clock);
    assert_eq!(plain.send().await.0, 200);
    assert_eq!(plain.send().await.0, 200);
    assert_eq!(calls(&kv), before);
    assert_eq!(nonce_keys(&kv).0.len(), 3);
}

/// Moves `clock` to the start of a minute, where the component's 60 s buckets and sweep
/// periods start, so that what a test does in the next ~50 s falls in one period.
fn align(clock: &GuestClock) {
    let s = clock.now().as_secs();
    clock.advance(Duration::from_secs(60 - s % 60));
}

fn diff(a: (usize, usize, usize), b: (usize, usize, usize)) -> (usize, usize, usize) {
    (a.0 - b.0, a.1 - b.1, a.2 - b.2)
}

/// Eight copies of one request sent at once, each to its own instance: exactly one passes
/// (the store's increment is the only arbiter; a read-then-write would let several through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_of_a_request_pass_once() {
    let rt = spin();
    let kv = KvBackend::new(&["default"]);
    let clock = GuestClock::default();
    let base = start(rt, &kv, &clock, &[]).await;
    let req = Arc::new(signed(
        &base,
        "PUT",
        Some(N1),
        &SigningKey::from_seed(&[23; 32]),
        &clock,
    ));
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let req = Arc::clone(&req);
            tokio::spawn(async move { req.send().await })
        })
        .collect();
    let mut passed = 0;
    for c in copies {
        let r = c.await.unwrap();
        if r.0 == 200 {
            passed += 1;
        } else {
            assert_replayed(&r);
        }
    }
    assert_eq!(passed, 1);
}

/// Under the default scope (`unsafe`) a repeated nonce on a GET is not checked (GET is
/// safe; the store is not touched); with `AAUTH_REPLAY_SCOPE=all` it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_is_checked_only_under_scope_all() {
    let rt = spin();
    let clock = GuestClock::default();
    let key = SigningKey::from_seed(&[24; 32]);

    let kv = KvBackend::new(&["default"]);
    let base = start(rt, &kv, &clock, &[]).await;
    let get = signed(&base, "GET", Some(N1), &key, &clock);
    assert_eq!(get.send().await.0, 200);
    assert_eq!(get.send().await.0, 200);
    assert_eq!(calls(&kv), (0, 0, 0), "GET is not checked by default");

    let kv = KvBackend::new(&["default"]);
    let base = start(rt, &kv, &clock, &[("AAUTH_REPLAY_SCOPE", "all")]).await;
    let get = signed(&base, "GET", Some(N1), &key, &clock);
    assert_eq!(get.send().await.0, 200);
    assert_replayed(&get.send().await);
    // HEAD too (no body, so only the status).
    let head = signed(&base, "HEAD", Some(N2), &key, &clock);
    assert_eq!(head.send().await.0, 200);
    assert_eq!(head.send().await.0, 401);
}

/// A nonce that is not base64url of at least 96 bits, or two `Nonce` fields, is refused
/// with 400 `invalid_request` before the store is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_nonce_is_refused() {
    let rt = spin();
    let kv = KvBackend::new(&["default"]);
    let clock = GuestClock::default();
    let base = start(rt, &kv, &clock, &[]).await;
    let key = SigningKey::from_seed(&[25; 32]);
    for bad in [
        "c2hvcnQ",
        "Y3VyaW91c2x5Y3VyaW91cw==",
        "Y3VyaW91c2x5Y3VyaW91+w",
    ] {
        let (s, agent_auth, v) = signed(&base, "POST", Some(bad), &key, &clock).send().await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["error"], "invalid_request", "{v}");
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("at least 96 bits")),
            "{v}"
        );
        assert_eq!(agent_auth.as_deref(), Some("httpsig"));
    }
    // Two Nonce fields, both covered (as one combined value): refused as malformed.
    let (s, _, v) = signed_with(&base, "POST", &[N1, N2], &key, &clock)
        .send()
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"], "invalid_request", "{v}");
    assert_eq!(calls(&kv).1, 0, "nothing was stored");
}

/// Sweeping: the first nonce accepted in each 60 s period lists the store and deletes the
/// counters and index entries of buckets that ended at least 60 s ago, and the old sweep
/// counters; nonces whose replay could still pass the `created` window stay, and keys that
/// are not the check's (the key cache's, another application's, malformed ones) are never
/// touched. The component's clock is moved by hand (and the signer's with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_removes_only_expired_buckets() {
    let rt = spin();
    let kv = KvBackend::new(&["default"]);
    let clock = GuestClock::default();
    let base = start(rt, &kv, &clock, &[]).await;
    let key = SigningKey::from_seed(&[26; 32]);
    let foreign = [
        "aauth-spin:sha-256=:abc",
        "other-app/counter",
        "aauth-nonce/1/not-ours",
        "aauth-nonce/junk",
    ];
    for k in foreign {
        kv.insert("default", k, b"x".to_vec());
    }
    let post = |nonce| signed(&base, "POST", Some(nonce), &key, &clock);
    // t0 = 60k: buckets and periods below are exact (each step has ≥ 19 s of margin).
    align(&clock);

    // t0: N1 (expires t0 + 60, bucket k + 1, which ends at t0 + 120). This first acceptance
    // of the period sweeps: nothing to do.
    let first = post(N1);
    assert_eq!(first.send().await.0, 200);
    assert_eq!(kv.lists.load(Ordering::SeqCst), 1);
    let (n1, n1_index, _) = nonce_keys(&kv);
    let (n1, n1_index) = (n1[0].clone(), n1_index[0].clone());

    // t0 + 100: N1's signature is too old now, but its bucket ended only 40 s ago (< 60 s of
    // grace): this period's sweep keeps it. N3 is accepted (expires t0 + 160, bucket k + 2).
    clock.advance(Duration::from_secs(100));
    assert_eq!(post(N3).send().await.0, 200);
    assert_eq!(kv.lists.load(Ordering::SeqCst), 2, "a new period sweeps");
    let (counters, index, _) = nonce_keys(&kv);
    assert!(counters.contains(&n1) && index.contains(&n1_index));
    assert_eq!(kv.deleted.load(Ordering::SeqCst), 0);

    // A second acceptance in the same period does not sweep.
    assert_eq!(post(N4).send().await.0, 200);
    assert_eq!(kv.lists.load(Ordering::SeqCst), 2);
    let (live, live_index, _) = nonce_keys(&kv);

    // t0 + 200: N2 sweeps. N1 (its counter and index entry; bucket ended 80 s ago) and the
    // sweep counters of periods k and k + 1 go; N3 and N4 (expired 40 s ago, their bucket
    // ends at t0 + 180) stay, as do the keys that are not the check's.
    clock.advance(Duration::from_secs(100));
    assert_eq!(post(N2).send().await.0, 200);
    assert_eq!(kv.lists.load(Ordering::SeqCst), 3);
    let (counters, index, sweep) = nonce_keys(&kv);
    assert!(!counters.contains(&n1), "{counters:?}");
    assert!(!index.contains(&n1_index), "{index:?}");
    assert_eq!((counters.len(), index.len()), (3, 3), "N2, N3, N4");
    for k in live
        .iter()
        .chain(&live_index)
        .filter(|k| **k != n1 && **k != n1_index)
    {
        assert!(counters.contains(k) || index.contains(k), "{k} was swept");
    }
    assert_eq!(sweep.len(), 1, "only the current period's: {sweep:?}");
    for k in foreign {
        assert!(
            kv.entries("default").iter().any(|(e, _)| e == k),
            "{k} was swept"
        );
    }
    assert_eq!(kv.deleted.load(Ordering::SeqCst), 4);

    // Once swept, N1's old request is still refused, by the `created` window.
    let (s, _, v) = first.send().await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_signature");
}

/// With the check on, a store that cannot be opened (not granted), a backend failing after
/// `open`, and the default build (no shared store at all) refuse a checked request with
/// 503 `server_error`, never passing it unchecked; requests the check does not see are
/// served, and with `AAUTH_REPLAY_SCOPE=off` everything is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_unavailable_fails_closed() {
    let clock = GuestClock::default();
    let key = SigningKey::from_seed(&[27; 32]);
    let unavailable = |(s, _, v): (u16, Option<String>, Value)| {
        assert_eq!(s, 503, "{v}");
        assert_eq!(v["error"], "server_error", "{v}");
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("replay store is unavailable")),
            "{v}"
        );
    };

    // The spin build without a granted store.
    let none = KvBackend::new(&[]);
    let base = start(spin(), &none, &clock, &[]).await;
    unavailable(signed(&base, "POST", Some(N1), &key, &clock).send().await);
    assert!(none.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        signed(&base, "POST", None, &key, &clock).send().await.0,
        200
    );
    assert_eq!(
        signed(&base, "GET", Some(N1), &key, &clock).send().await.0,
        200
    );
    let off = start(spin(), &none, &clock, &[("AAUTH_REPLAY_SCOPE", "off")]).await;
    let post = signed(&off, "POST", Some(N1), &key, &clock);
    assert_eq!(post.send().await.0, 200);
    assert_eq!(post.send().await.0, 200, "off: not checked");

    // A backend that opens and then fails.
    let failing = KvBackend::new(&["default"]);
    failing.failing.store(true, Ordering::SeqCst);
    let base = start(spin(), &failing, &clock, &[]).await;
    unavailable(signed(&base, "POST", Some(N1), &key, &clock).send().await);
    assert_eq!(failing.increments.load(Ordering::SeqCst), 1);
    failing.failing.store(false, Ordering::SeqCst);
    assert_eq!(
        signed(&base, "POST", Some(N1), &key, &clock).send().await.0,
        200,
        "the failed attempt stored nothing"
    );

    // The default build: no `wasi:keyvalue` import, so no shared store.
    let rt = tokio::task::block_in_place(runtime);
    let kv = KvBackend::new(&["default"]);
    let base = start(rt, &kv, &clock, &[]).await;
    unavailable(signed(&base, "DELETE", Some(N1), &key, &clock).send().await);
    assert_eq!(calls(&kv), (0, 0, 0));
    let off = start(rt, &kv, &clock, &[("AAUTH_REPLAY_SCOPE", "off")]).await;
    assert_eq!(
        signed(&off, "DELETE", Some(N1), &key, &clock)
            .send()
            .await
            .0,
        200
    );
}

/// `AAUTH_REPLAY_STORE` gives the nonces a store of their own (the key cache's store is not
/// touched, so a sweep lists nonces only); a label the component is not granted fails
/// closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_go_to_the_configured_store() {
    let rt = spin();
    let kv = KvBackend::new(&["default", "nonces"]);
    let clock = GuestClock::default();
    let key = SigningKey::from_seed(&[26; 32]);
    let base = start(rt, &kv, &clock, &[("AAUTH_REPLAY_STORE", "nonces")]).await;
    let first = signed(&base, "POST", Some(N1), &key, &clock);
    assert_eq!(first.send().await.0, 200);
    assert_replayed(&first.send().await);
    let ours = |label: &str| {
        kv.entries(label)
            .iter()
            .filter(|(k, _)| k.starts_with("aauth-nonce/"))
            .count()
    };
    assert!(ours("nonces") >= 2, "counter and index entry");
    assert_eq!(ours("default"), 0);

    let base = start(rt, &kv, &clock, &[("AAUTH_REPLAY_STORE", "elsewhere")]).await;
    let (s, _, v) = signed(&base, "POST", Some(N2), &key, &clock).send().await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"], "server_error", "{v}");
}
