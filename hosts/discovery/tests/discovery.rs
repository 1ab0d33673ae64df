//! Key discovery against a loopback server: caching, single flight, refetch floor,
//! metadata checks, limits and egress policy (digest §3.6, S-16, S-22, S-23, S-24).

mod support;

use std::time::{Duration, Instant};

use aauth_core::{ErrorCode, ProtocolError};
use aauth_discovery::{DiscoveryConfig, DiscoveryError, EgressPolicy, JwksLocation};
use serde_json::json;
use support::{Route, Server, discovery, discovery_with, jwks, public};

const META: &str = "/.well-known/aauth-agent";
const JWKS: &str = "/jwks.json";

fn agent(s: &Server) -> JwksLocation {
    JwksLocation::well_known(s.base.clone(), "aauth-agent")
}

#[tokio::test]
async fn warm_path_does_no_fetch() {
    let s = Server::start().await;
    s.agent(&[(1, "k1"), (2, "k2")], None);
    let (d, _) = discovery(DiscoveryConfig::default());
    let loc = agent(&s);

    let k = d.key(&loc, Some("k1")).await.unwrap();
    assert_eq!(k.key.ed25519_bytes(), Some(public(1)));
    let cold = d.stats();
    assert_eq!((cold.metadata_fetches, cold.jwks_fetches), (1, 1));

    for _ in 0..100 {
        d.key(&loc, Some("k1")).await.unwrap();
        d.key(&loc, Some("k2")).await.unwrap();
    }
    let warm = d.stats();
    assert_eq!((warm.metadata_fetches, warm.jwks_fetches), (1, 1));
    assert_eq!(warm.cache_hits, 200);
    assert_eq!((s.hits(META), s.hits(JWKS)), (1, 1));
}

#[tokio::test]
async fn ttl_from_cache_control_is_honoured_and_clamped() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], Some("public, max-age=120"));
    s.jwks("/short", &[(1, "k1")], Some("max-age=5"));
    s.jwks("/none", &[(1, "k1")], None);
    let (d, clock) = discovery(DiscoveryConfig::default());
    let loc = agent(&s);
    let short = JwksLocation::url(s.url("/short"));
    let none = JwksLocation::url(s.url("/none"));
    for l in [&loc, &short, &none] {
        d.key(l, Some("k1")).await.unwrap();
    }

    clock.advance(Duration::from_secs(59));
    for l in [&loc, &short, &none] {
        d.key(l, Some("k1")).await.unwrap();
    }
    assert_eq!((s.hits(JWKS), s.hits("/short"), s.hits("/none")), (1, 1, 1));

    // max-age=5 is raised to the 60 s minimum.
    clock.advance(Duration::from_secs(2));
    for l in [&loc, &short, &none] {
        d.key(l, Some("k1")).await.unwrap();
    }
    assert_eq!((s.hits(JWKS), s.hits("/short"), s.hits("/none")), (1, 2, 1));

    // max-age=120 on the JWKS; the metadata (max-age=3600) stays cached.
    clock.advance(Duration::from_secs(60));
    d.key(&loc, Some("k1")).await.unwrap();
    assert_eq!((s.hits(META), s.hits(JWKS)), (1, 2));

    // No Cache-Control: 5 minutes.
    clock.advance(Duration::from_secs(300 - 121));
    d.key(&none, Some("k1")).await.unwrap();
    assert_eq!(s.hits("/none"), 2);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], None);
    s.set(
        META,
        Route::json(&json!({"agent": s.base, "jwks_uri": s.url(JWKS)}))
            .delay(Duration::from_millis(100)),
    );
    let (d, _) = discovery(DiscoveryConfig::default());
    let loc = agent(&s);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (d, loc) = (d.clone(), loc.clone());
            tokio::spawn(async move { d.key(&loc, Some("k1")).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(
            t.await.unwrap().unwrap().key.ed25519_bytes(),
            Some(public(1))
        );
    }
    assert_eq!((s.hits(META), s.hits(JWKS)), (1, 1));
    let st = d.stats();
    assert_eq!(
        (st.metadata_fetches, st.jwks_fetches, st.cache_hits),
        (1, 1, 49)
    );
}

#[tokio::test]
async fn cancelled_lookup_does_not_cancel_the_fetch() {
    let s = Server::start().await;
    s.set(
        JWKS,
        Route::json(&jwks(&[(1, "k1")])).delay(Duration::from_millis(200)),
    );
    let (d, _) = discovery(DiscoveryConfig::default());
    let loc = JwksLocation::url(s.url(JWKS));
    let first = tokio::spawn({
        let (d, loc) = (d.clone(), loc.clone());
        async move { d.key(&loc, Some("k1")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.abort();
    // The next caller joins the fetch the cancelled one started.
    assert!(d.key(&loc, Some("k1")).await.is_ok());
    assert_eq!((s.hits(JWKS), d.stats().jwks_fetches), (1, 1));
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_minute() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], Some("max-age=86400"));
    let (d, clock) = discovery(DiscoveryConfig::default());
    let loc = agent(&s);
    d.key(&loc, Some("k1")).await.unwrap();
    // Within the first minute after the fetch: no refetch for unknown kids.
    for i in 0..100 {
        let kid = format!("bogus-{i}");
        assert_eq!(
            d.key(&loc, Some(&kid)).await,
            Err(DiscoveryError::UnknownKid)
        );
    }
    assert_eq!(s.hits(JWKS), 1);

    clock.advance(Duration::from_secs(60));
    for i in 0..100 {
        let kid = format!("bogus-{i}");
        assert_eq!(
            d.key(&loc, Some(&kid)).await,
            Err(DiscoveryError::UnknownKid)
        );
    }
    assert_eq!(s.hits(JWKS), 2, "one refetch per minute");
    assert_eq!(d.key(&loc, Some("k1")).await.map(|_| ()), Ok(()));
    assert_eq!(s.hits(META), 1);
    assert_eq!(d.stats().negative_hits, 199);
}

#[tokio::test]
async fn key_rotation_is_picked_up() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], Some("max-age=600"));
    let (d, clock) = discovery(DiscoveryConfig::default());
    let loc = agent(&s);
    d.key(&loc, Some("k1")).await.unwrap();

    // A new key is published next to the old one: found by the unknown-kid refetch once
    // the floor has passed.
    s.jwks(JWKS, &[(1, "k1"), (2, "k2")], Some("max-age=600"));
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        d.key(&loc, Some("k2")).await.unwrap().key.ed25519_bytes(),
        Some(public(2))
    );

    // The old key is withdrawn: still served until the TTL ends, then gone.
    s.jwks(JWKS, &[(2, "k2")], Some("max-age=600"));
    clock.advance(Duration::from_secs(599));
    assert!(d.key(&loc, Some("k1")).await.is_ok());
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        d.key(&loc, Some("k1")).await,
        Err(DiscoveryError::UnknownKid)
    );
    assert!(d.key(&loc, Some("k2")).await.is_ok());

    // Same kid, new key material (silent re-key) after the TTL.
    s.jwks(JWKS, &[(3, "k2")], Some("max-age=600"));
    clock.advance(Duration::from_secs(601));
    assert_eq!(
        d.key(&loc, Some("k2")).await.unwrap().key.ed25519_bytes(),
        Some(public(3))
    );
    assert_eq!(s.hits(JWKS), 4);
}

#[tokio::test]
async fn metadata_identity_must_match() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], None);
    let (d, _) = discovery(DiscoveryConfig::default());

    for doc in [
        json!({"agent": "https://evil.example", "jwks_uri": s.url(JWKS)}),
        json!({"agent": format!("{}/", s.base), "jwks_uri": s.url(JWKS)}),
        json!({"agent": s.base, "issuer": "https://evil.example", "jwks_uri": s.url(JWKS)}),
    ] {
        s.set(META, Route::json(&doc));
        d.invalidate(&agent(&s));
        assert_eq!(
            d.key(&agent(&s), Some("k1")).await,
            Err(DiscoveryError::IssuerMismatch),
            "{doc}"
        );
    }
    assert_eq!(s.hits(JWKS), 0);

    // Legacy metadata without an identifying member is accepted unless required.
    s.set(META, Route::json(&json!({"jwks_uri": s.url(JWKS)})));
    d.invalidate(&agent(&s));
    assert!(d.key(&agent(&s), Some("k1")).await.is_ok());
    let mut strict = DiscoveryConfig::default();
    strict.require_issuer = true;
    let (d, _) = discovery(strict);
    assert_eq!(
        d.key(&agent(&s), Some("k1")).await,
        Err(DiscoveryError::IssuerMissing)
    );

    // -11 style: `issuer` in aauth-issuer metadata.
    s.set(
        "/.well-known/aauth-issuer",
        Route::json(&json!({"issuer": s.base, "jwks_uri": s.url(JWKS)})),
    );
    let issuer = JwksLocation::well_known(s.base.clone(), "aauth-issuer");
    assert!(d.key(&issuer, Some("k1")).await.is_ok());
}

#[tokio::test]
async fn cross_origin_jwks_uri_needs_admission() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], None);
    // Same port, other host name: another origin.
    let other = format!("http://localhost:{}{JWKS}", s.addr.port());
    s.set(
        META,
        Route::json(&json!({"agent": s.base, "jwks_uri": other})),
    );
    let (d, _) = discovery(DiscoveryConfig::default());
    let err = d.key(&agent(&s), Some("k1")).await.unwrap_err();
    assert_eq!(err, DiscoveryError::CrossOriginJwksUri);
    assert_eq!(s.hits(JWKS), 0);

    let mut open = DiscoveryConfig::default();
    open.allow_cross_origin_jwks_uri = true;
    let (d, _) = discovery(open);
    assert!(d.key(&agent(&s), Some("k1")).await.is_ok());
    assert_eq!(s.hits(JWKS), 1);
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_while_streaming() {
    let s = Server::start().await;
    let mut big = Route::json(&json!({"keys": [], "pad": "x".repeat(300 * 1024)}));
    big.cache_control = None;
    s.set("/big", big);
    let mut endless = Route::json(&json!({}));
    endless.endless = true;
    s.set("/endless", endless);
    let mut config = DiscoveryConfig::default();
    config.timeout = Duration::from_secs(3);
    let (d, _) = discovery(config);

    let started = Instant::now();
    for path in ["/big", "/endless"] {
        let loc = JwksLocation::url(s.url(path));
        assert_eq!(
            d.key(&loc, None).await,
            Err(DiscoveryError::TooLarge),
            "{path}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    // A smaller cap applies to documents that fit the default.
    let mut small = DiscoveryConfig::default();
    small.max_body_bytes = 64;
    s.jwks(JWKS, &[(1, "k1")], None);
    let (d, _) = discovery(small);
    let loc = JwksLocation::url(s.url(JWKS));
    assert_eq!(d.key(&loc, None).await, Err(DiscoveryError::TooLarge));
}

#[tokio::test]
async fn slow_endpoints_time_out() {
    let s = Server::start().await;
    s.set(
        JWKS,
        Route::json(&jwks(&[(1, "k1")])).delay(Duration::from_secs(3)),
    );
    let mut config = DiscoveryConfig::default();
    config.timeout = Duration::from_millis(200);
    let (d, _) = discovery(config);
    let started = Instant::now();
    let loc = JwksLocation::url(s.url(JWKS));
    assert_eq!(d.key(&loc, Some("k1")).await, Err(DiscoveryError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        DiscoveryError::Timeout.code(),
        ErrorCode::InvalidSignature,
        "fetch failures are authentication failures"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = Server::start().await;
    s.jwks(JWKS, &[(1, "k1")], None);
    for (path, status) in [("/r302", 302), ("/r301", 301), ("/r307", 307)] {
        let mut r = Route::status(status);
        r.location = Some(s.url(JWKS));
        s.set(path, r);
    }
    s.set(
        META,
        Route {
            location: Some(s.url("/elsewhere")),
            ..Route::status(302)
        },
    );
    let (d, _) = discovery(DiscoveryConfig::default());
    for path in ["/r302", "/r301", "/r307"] {
        let loc = JwksLocation::url(s.url(path));
        assert_eq!(d.key(&loc, None).await, Err(DiscoveryError::Redirect));
    }
    assert_eq!(d.key(&agent(&s), None).await, Err(DiscoveryError::Redirect));
    assert_eq!((s.hits(JWKS), s.hits("/elsewhere")), (0, 0));
}

#[tokio::test]
async fn only_200_json_documents_are_accepted() {
    let s = Server::start().await;
    s.set("/500", Route::status(500));
    let mut html = Route::json(&jwks(&[(1, "k1")]));
    html.content_type = Some("text/html".into());
    s.set("/html", html);
    let mut junk = Route::json(&json!({}));
    junk.body = b"{not json".to_vec();
    s.set("/junk", junk);
    let many: Vec<(u8, String)> = (0..65).map(|i| (1, format!("k{i}"))).collect();
    let many: Vec<(u8, &str)> = many.iter().map(|(s, k)| (*s, k.as_str())).collect();
    s.jwks("/many", &many, None);
    s.set(META, Route::json(&json!({"agent": s.base})));
    let (d, _) = discovery(DiscoveryConfig::default());

    let get = |p: &str| JwksLocation::url(s.url(p));
    assert_eq!(
        d.key(&get("/500"), None).await,
        Err(DiscoveryError::Http(500))
    );
    assert_eq!(
        d.key(&get("/missing"), None).await,
        Err(DiscoveryError::Http(404))
    );
    for p in ["/html", "/junk", "/many"] {
        assert_eq!(
            d.key(&get(p), Some("k1")).await,
            Err(DiscoveryError::InvalidDocument),
            "{p}"
        );
    }
    assert_eq!(
        d.key(&agent(&s), None).await,
        Err(DiscoveryError::InvalidDocument)
    );
}

#[tokio::test]
async fn failures_are_negatively_cached() {
    let s = Server::start().await;
    let (d, clock) = discovery(DiscoveryConfig::default());
    let loc = JwksLocation::url(s.url("/gone"));
    for _ in 0..100 {
        assert_eq!(d.key(&loc, Some("k")).await, Err(DiscoveryError::Http(404)));
    }
    assert_eq!(s.hits("/gone"), 1);
    s.jwks("/gone", &[(1, "k")], None);
    clock.advance(Duration::from_secs(61));
    assert!(d.key(&loc, Some("k")).await.is_ok());
    assert_eq!(s.hits("/gone"), 2);
}

#[tokio::test]
async fn default_policy_refuses_loopback_without_traffic() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], None);
    let (d, _) = discovery_with(EgressPolicy::default(), DiscoveryConfig::default());
    let https = format!("https://{}{JWKS}", s.authority());
    for loc in [
        agent(&s),
        JwksLocation::url(s.url(JWKS)),
        JwksLocation::url(https.clone()),
        JwksLocation::url(format!("https://[::1]:{}{JWKS}", s.addr.port())),
        JwksLocation::url(format!(
            "https://[::ffff:127.0.0.1]:{}{JWKS}",
            s.addr.port()
        )),
        JwksLocation::url("https://10.0.0.1/jwks.json"),
        JwksLocation::url("https://169.254.169.254/latest/meta-data"),
    ] {
        assert_eq!(
            d.key(&loc, None).await,
            Err(DiscoveryError::EgressDenied),
            "{loc:?}"
        );
    }
    // A host name is checked on its resolved addresses: `localhost` resolves to loopback
    // only, so the resolver leaves nothing to connect to.
    let (d, _) = discovery_with(
        EgressPolicy::new().allow_http(true),
        DiscoveryConfig::default(),
    );
    let named = JwksLocation::url(format!("http://localhost:{}{JWKS}", s.addr.port()));
    assert_eq!(d.key(&named, None).await, Err(DiscoveryError::EgressDenied));
    assert_eq!(s.total_hits(), 0);
    assert_eq!(
        d.stats().jwks_fetches,
        1,
        "admitted by URL, refused at resolution"
    );
}

#[tokio::test]
async fn allow_list_admits_the_test_server() {
    let s = Server::start().await;
    s.agent(&[(1, "k1")], None);
    let policy = EgressPolicy::new().allow_host(&s.authority());
    let (d, _) = discovery_with(policy, DiscoveryConfig::default());
    assert!(d.key(&agent(&s), Some("k1")).await.is_ok());

    // IPv6 loopback through the dev policy, where the machine has it.
    if let Ok(v6) = Server::start_on("[::1]:0").await {
        v6.agent(&[(2, "k2")], None);
        let (d, _) = discovery(DiscoveryConfig::default());
        let loc = JwksLocation::well_known(v6.base.clone(), "aauth-agent");
        assert_eq!(
            d.key(&loc, Some("k2")).await.unwrap().key.ed25519_bytes(),
            Some(public(2))
        );
    }
}

#[tokio::test]
async fn cache_stays_bounded_under_a_flood_of_bogus_locations() {
    let mut config = DiscoveryConfig::default();
    config.max_entries = 100;
    let (d, _) = discovery_with(EgressPolicy::default(), config.clone());
    for i in 0..20_000u32 {
        let [_, a, b, c] = i.to_be_bytes();
        let loc = JwksLocation::url(format!("https://10.{a}.{b}.{c}/jwks.json"));
        assert_eq!(
            d.key(&loc, Some("k")).await,
            Err(DiscoveryError::EgressDenied)
        );
        assert!(d.len() <= 100);
    }
    assert_eq!(d.len(), 100);
    assert_eq!(d.stats().evictions, 19_900);
    assert_eq!(d.stats().jwks_fetches, 0);

    // Real fetches too: distinct bogus paths on the loopback server.
    let s = Server::start().await;
    config.max_entries = 50;
    let (d, _) = discovery(config);
    for i in 0..300 {
        let loc = JwksLocation::url(s.url(&format!("/bogus/{i}")));
        assert_eq!(d.key(&loc, None).await, Err(DiscoveryError::Http(404)));
        assert!(d.len() <= 50);
    }
    assert_eq!(s.total_hits(), 300);

    // Malformed locations never create entries.
    let (d, _) = discovery(DiscoveryConfig::default());
    for bad in ["", "not a url", "file:///etc/passwd"] {
        assert_eq!(
            d.key(&JwksLocation::url(bad), None).await,
            Err(DiscoveryError::InvalidLocation)
        );
    }
    let wk = JwksLocation::well_known("https://agent.example", "../../admin");
    assert_eq!(d.key(&wk, None).await, Err(DiscoveryError::InvalidLocation));
    assert!(d.is_empty());
    assert_eq!(
        DiscoveryError::InvalidLocation.code(),
        ErrorCode::InvalidRequest
    );
}

#[tokio::test]
async fn unusable_or_duplicate_members_do_not_hide_good_keys() {
    let s = Server::start().await;
    let mut set = jwks(&[(1, "good"), (2, "twin"), (3, "twin")]);
    let keys = set["keys"].as_array_mut().unwrap();
    keys.push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "sym"}));
    keys.push(json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"}));
    keys.push(json!(42));
    s.set(JWKS, Route::json(&set));
    let (d, _) = discovery(DiscoveryConfig::default());
    let loc = JwksLocation::url(s.url(JWKS));

    assert_eq!(
        d.key(&loc, Some("good")).await.unwrap().key.ed25519_bytes(),
        Some(public(1))
    );
    assert_eq!(
        d.key(&loc, Some("twin")).await,
        Err(DiscoveryError::AmbiguousKid)
    );
    let sym = d.key(&loc, Some("sym")).await.unwrap_err();
    assert!(matches!(sym, DiscoveryError::Key(_)));
    assert_eq!(sym.code(), ErrorCode::UnsupportedAlgorithm);
    assert!(matches!(
        d.key(&loc, Some("short")).await,
        Err(DiscoveryError::Key(_))
    ));
    // Without a kid the set must hold exactly one key.
    assert_eq!(d.key(&loc, None).await, Err(DiscoveryError::UnknownKid));
    assert_eq!(s.hits(JWKS), 1);
}
