//! The conformance checklist (digest §5.1 L-xx and the applicable §5.2 S-xx items) over
//! HTTP: our axum resource (`aauth-tower`) and auth server (`aauth-issuer`) run on loopback
//! and are driven as black boxes with hand-built requests. Each test is named after its
//! checklist item and asserts the status, the `error` code and a phrase of
//! `error_description` of every negative case, next to a control request that passes, so a
//! test fails for the reason it names. `tests/CONFORMANCE.md` maps every item to its tests.
//!
//! Requests are signed here with the core's primitives only (`signature_base` over a
//! `Signature-Input` written by hand), so malformed and non-conforming signatures can be
//! produced that our own signer would never emit.

use aauth_core::{
    AgentClaims, AuthClaims, KeyScheme, ResourceClaims, Signer as _, SigningKey, UnixTime,
    content_digest,
};
use aauth_discovery::{DiscoveryConfig, EgressPolicy};
use serde_json::Value;

mod support;
use support::*;

// ---- 5.1 legacy checklist -------------------------------------------------------------

/// Sends `r` to the resource and expects `401 invalid_signature` (with an `Agent-Auth`
/// challenge) whose description contains `phrase`.
async fn refused_signature(e: &Env, r: &Raw, phrase: &str) {
    refused_by_resource(
        &r.send(&e.http, &e.resource).await,
        401,
        "invalid_signature",
        phrase,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l01_signature_key_required_and_covered() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        ok(&e.get("/sig", &k, key).await);
        // Signature and Signature-Input without Signature-Key.
        let r = Raw::get("/sig")
            .signed(a, &k, key, &e.input(GET))
            .without("signature-key");
        refused_signature(&e, &r, "missing Signature-Key header").await;
        // S-21: Signature-Key present but not covered.
        let r = Raw::get("/sig").signed(a, &k, key, &e.input(r#""@method" "@authority" "@path""#));
        refused_signature(&e, &r, "`signature-key` must be a covered component").await;
        // The same at the auth server.
        let body = form(&[("request_type", "refresh"), ("refresh_token", "x")]);
        let r = Raw::post("/agent/token", &body).signed(
            &e.issuer_authority,
            &k,
            key,
            &e.input(r#""@method" "@authority" "@path" "content-type" "content-digest""#),
        );
        refused(
            &r.send(&e.http, &e.issuer).await,
            401,
            "invalid_signature",
            "`signature-key` must be a covered component",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l02_signature_key_has_exactly_one_member() {
    bounded(async {
        let e = Env::start().await;
        let two = format!(
            "{}, sig2=(scheme=hwk kty=\"OKP\" crv=\"Ed25519\" x=\"AA\")",
            e.jwks_key()
        );
        let r = Raw::get("/sig").signed(&e.resource_authority, &two, &e.agent_key, &e.input(GET));
        refused_by_resource(
            &r.send(&e.http, &e.resource).await,
            400,
            "invalid_request",
            "exactly one member",
        );
        // Two Signature-Key field lines combine into a two-member list.
        let r = Raw::get("/sig")
            .signed(
                &e.resource_authority,
                &e.jwks_key(),
                &e.agent_key,
                &e.input(GET),
            )
            .header("signature-key", &e.jwks_key());
        refused_signature(&e, &r, "exactly one signature").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l03_one_label_everywhere() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        // Signature under another label than Signature-Input and Signature-Key.
        let r = Raw::get("/sig").signed_as(a, &k, key, &e.input(GET), "sig2");
        refused_signature(&e, &r, "labels differ").await;
        // Signature-Key under another label than the signature.
        let k2 = k.replacen("sig1=", "sig2=", 1);
        let r = Raw::get("/sig").signed(a, &k2, key, &e.input(GET));
        refused_signature(&e, &r, "labels differ").await;
        // Two signatures in Signature-Input.
        let input = format!("{}, sig2=({GET});created={}", e.input(GET), e.now());
        let r = Raw::get("/sig")
            .signed(a, &k, key, &e.input(GET))
            .without("signature-input")
            .header("signature-input", &input);
        refused_signature(&e, &r, "exactly one signature").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l04_required_components() {
    bounded(async {
        let e = Env::start().await;
        for (missing, components) in [
            ("@method", r#""@authority" "@path" "signature-key""#),
            ("@authority", r#""@method" "@path" "signature-key""#),
            ("@path", r#""@method" "@authority" "signature-key""#),
        ] {
            let r = Raw::get("/sig").signed(
                &e.resource_authority,
                &e.jwks_key(),
                &e.agent_key,
                &e.input(components),
            );
            refused_by_resource(
                &r.send(&e.http, &e.resource).await,
                401,
                "invalid_signature",
                &format!("`{missing}` must be a covered component"),
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l05_query_covered_iff_present() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        let with_query = r#""@method" "@authority" "@path" "@query" "signature-key""#;
        let r = Raw::get("/sig?x=1").signed(a, &k, key, &e.input(with_query));
        ok(&r.send(&e.http, &e.resource).await);
        let r = Raw::get("/sig?x=1").signed(a, &k, key, &e.input(GET));
        refused_signature(&e, &r, "`@query` must be a covered component").await;
        let r = Raw::get("/sig").signed(a, &k, key, &e.input(with_query));
        refused_signature(&e, &r, "`@query` must not be covered").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l06_body_components_iff_body() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        ok(&Raw::post("/sig", "a=1")
            .signed(a, &k, key, &e.input(BODY))
            .send(&e.http, &e.resource)
            .await);
        for (components, phrase) in [
            (GET, "`content-type` must be a covered component"),
            (
                r#""@method" "@authority" "@path" "content-type" "signature-key""#,
                "`content-digest` must be a covered component",
            ),
        ] {
            let r = Raw::post("/sig", "a=1").signed(a, &k, key, &e.input(components));
            refused_by_resource(
                &r.send(&e.http, &e.resource).await,
                401,
                "invalid_signature",
                phrase,
            );
        }
        // Body components covered on a request without a body.
        let r = Raw::get("/sig")
            .header("content-type", "application/json")
            .header("content-digest", &content_digest::sha256(b""))
            .signed(a, &k, key, &e.input(BODY));
        refused_signature(&e, &r, "`content-type` must not be covered").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l07_content_digest_recomputed() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        // Signed over one body, sent with another (same length).
        let mut r = Raw::post("/sig", "amount=1").signed(a, &k, key, &e.input(BODY));
        r.body = Some(b"amount=9".to_vec());
        refused_signature(&e, &r, "Content-Digest does not match the body").await;
        // A digest that is not RFC 9530 syntax.
        let r = Raw::post("/sig", "amount=1")
            .without("content-digest")
            .header("content-digest", "sha-256=abc")
            .signed(a, &k, key, &e.input(BODY));
        let answer = r.send(&e.http, &e.resource).await;
        refused_by_resource(&answer, 401, "invalid_signature", "Content-Digest");
        // At the auth server too.
        let mut r = Raw::post("/agent/token", "request_type=refresh&refresh_token=a").signed(
            &e.issuer_authority,
            &k,
            key,
            &e.input(BODY),
        );
        r.body = Some(b"request_type=refresh&refresh_token=b".to_vec());
        refused(
            &r.send(&e.http, &e.issuer).await,
            401,
            "invalid_signature",
            "Content-Digest does not match the body",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l08_nonce_covered_and_not_replayed() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        let with_nonce =
            r#""@method" "@authority" "@path" "content-type" "content-digest" "nonce" "signature-key""#;
        const N1: &str = "Y3VyaW91c2x5Y3VyaW91cw";
        const N2: &str = "bm90LXRoZS1zYW1lLW5vbmNl";
        // Nonce sent but not covered.
        let r = Raw::post("/sig", "a=1")
            .header("nonce", N1)
            .signed(a, &k, key, &e.input(BODY));
        refused_signature(&e, &r, "`nonce` must be a covered component").await;
        // Covered: the first use passes, the replay is refused, a new nonce passes.
        let first = Raw::post("/sig", "a=1")
            .header("nonce", N1)
            .signed(a, &k, key, &e.input(with_nonce));
        ok(&first.send(&e.http, &e.resource).await);
        refused_signature(&e, &first, "replayed request").await;
        let second = Raw::post("/sig", "a=1")
            .header("nonce", N2)
            .signed(a, &k, key, &e.input(with_nonce));
        ok(&second.send(&e.http, &e.resource).await);
        // The same nonce under another key is another entry (authority, key, nonce).
        let other = SigningKey::from_seed(&[9; 32]);
        let r = Raw::post("/sig", "a=1")
            .header("nonce", N1)
            .signed(a, &e.hwk_key(&other), &other, &e.input(with_nonce));
        ok(&r.send(&e.http, &e.resource).await);
        // A nonce shorter than 96 bits.
        let r = Raw::post("/sig", "a=1")
            .header("nonce", "c2hvcnQ")
            .signed(a, &k, key, &e.input(with_nonce));
        refused_by_resource(
            &r.send(&e.http, &e.resource).await,
            400,
            "invalid_request",
            "at least 96 bits",
        );
        // GET is idempotent: a repeated nonce is not checked by default.
        let get = r#""@method" "@authority" "@path" "nonce" "signature-key""#;
        let r = Raw::get("/sig")
            .header("nonce", N1)
            .signed(a, &k, key, &e.input(get));
        ok(&r.send(&e.http, &e.resource).await);
        ok(&r.send(&e.http, &e.resource).await);
        assert_eq!(e.resource_cfg.replay_cache().len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l09_created_required_and_fresh() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        let now = e.now();
        let at = |t: u64| format!("sig1=({GET});created={t}");
        ok(&Raw::get("/sig")
            .signed(a, &k, key, &at(now - 55))
            .send(&e.http, &e.resource)
            .await);
        ok(&Raw::get("/sig")
            .signed(a, &k, key, &at(now + 55))
            .send(&e.http, &e.resource)
            .await);
        for (input, phrase) in [
            (format!("sig1=({GET})"), "no `created`"),
            (format!("sig1=({GET});expires={}", now + 30), "no `created`"),
            (at(now - 61), "too old"),
            (at(now + 61), "in the future"),
            (
                format!("sig1=({GET});created={now};expires={}", now - 1),
                "expired",
            ),
        ] {
            let r = Raw::get("/sig").signed(a, &k, key, &input);
            refused_by_resource(
                &r.send(&e.http, &e.resource).await,
                401,
                "invalid_signature",
                phrase,
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l10_configured_authority_never_host() {
    bounded(async {
        let e = Env::start().await;
        let (k, key) = (e.jwks_key(), &e.agent_key);
        // Signed for another authority and sent with matching Host / forwarding headers.
        let evil = "evil.example:443";
        let r = Raw::get("/sig")
            .header("host", evil)
            .header("x-forwarded-host", evil)
            .header("forwarded", "host=evil.example:443")
            .signed(evil, &k, key, &e.input(GET));
        refused_signature(&e, &r, "signature verification failed").await;
        // Signed for the configured authority and sent with a forged Host: still verifies,
        // because Host is never read.
        let r = Raw::get("/sig").header("host", evil).signed(
            &e.resource_authority,
            &k,
            key,
            &e.input(GET),
        );
        ok(&r.send(&e.http, &e.resource).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l11_ed25519_is_supported_by_every_scheme() {
    bounded(async {
        let e = Env::start().await;
        let k = SigningKey::from_seed(&[5; 32]);
        let v = e.get("/sig", &e.hwk_key(&k), &k).await;
        ok(&v);
        assert_eq!(v.1["scheme"], "hwk");
        let v = e.get("/id", &e.jwks_key(), &e.agent_key).await;
        ok(&v);
        assert_eq!(v.1["agent"], e.agent_id.as_str());
        let token = e.auth_token().await;
        let jwt = KeyScheme::Jwt { jwt: token }.to_header("sig1").unwrap();
        let v = e.get("/auth", &jwt, &e.agent_key).await;
        ok(&v);
        assert_eq!(v.1["scope"], "data.read");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l12_jwks_modes() {
    bounded(async {
        let e = Env::start().await;
        let id = &e.agent_id;
        for (sk, status, code, phrase) in [
            (
                format!(r#"sig1=(scheme=jwks jwks="{id}/jwks.json" id="{id}" kid="key-1")"#),
                400,
                "invalid_request",
                "exactly one of `jwks` and `id`",
            ),
            (
                r#"sig1=(scheme=jwks kid="key-1")"#.to_owned(),
                400,
                "invalid_request",
                "exactly one of `jwks` and `id`",
            ),
            (
                format!(r#"sig1=(scheme=jwks jwks="{id}/jwks.json" kid="key-1" well-known="aauth-agent")"#),
                400,
                "invalid_request",
                "`well-known` not allowed",
            ),
        ] {
            let v = e.get("/sig", &sk, &e.agent_key).await;
            refused_by_resource(&v, status, code, phrase);
        }
        // Mode 1 (a JWKS URL) works.
        let sk = format!(r#"sig1=(scheme=jwks jwks="{id}/jwks.json" kid="key-1")"#);
        ok(&e.get("/sig", &sk, &e.agent_key).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l13_jwks_mode_2_discovery() {
    bounded(async {
        let e = Env::start().await;
        // With well-known: {id}/.well-known/aauth-agent → jwks_uri → JWKS.
        let v = e.get("/id", &e.jwks_key(), &e.agent_key).await;
        ok(&v);
        assert_eq!(v.1["agent"], e.agent_id.as_str());
        // Without well-known: {id} is the JWKS itself.
        let sk = format!(
            r#"sig1=(scheme=jwks id="{}/jwks.json" kid="key-1")"#,
            e.agent_id
        );
        ok(&e.get("/sig", &sk, &e.agent_key).await);
        // A kid the JWKS does not have.
        let sk = e.jwks_key().replace("key-1", "key-404");
        let v = e.get("/sig", &sk, &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        // The right kid, but the request signed by another key.
        let other = SigningKey::from_seed(&[7; 32]);
        let v = e.get("/sig", &e.jwks_key(), &other).await;
        refused_by_resource(
            &v,
            401,
            "invalid_signature",
            "signature verification failed",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l14_x509_is_refused_unverified() {
    bounded(async {
        let e = Env::start().await;
        let sk = r#"sig1=(scheme=x509 x5u="https://agent.example/cert.pem" x5t="bWcoon4QTVn8Q6xiY0ekMD6L8bNLMkuDV2KtvsFc1nM")"#;
        let v = e.get("/sig", sk, &e.agent_key).await;
        refused_by_resource(&v, 401, "unsupported_scheme", "not supported");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l15_jwt_validated_before_cnf_is_trusted() {
    bounded(async {
        let e = Env::start().await;
        let token = e.auth_token().await;
        let jwt = |t: &str| KeyScheme::Jwt { jwt: t.into() }.to_header("sig1").unwrap();
        // A forged auth token (signed by the attacker under the issuer's kid) bound to the
        // attacker's key: the request signature is good under cnf.jwk, the token is not.
        let attacker = SigningKey::from_seed(&[66; 32]);
        let kid = serde_json::from_slice::<Value>(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let forged = AuthClaims::new(
            &e.issuer,
            e.resource.as_str(),
            attacker.public_jwk(),
            UnixTime::from_secs(e.now() + 300),
        )
        .with_agent(&e.agent_id)
        .with_scope("data.read")
        .sign(&SigningKey::from_seed(&[66; 32]).with_kid(&kid))
        .unwrap();
        let v = e.get("/auth", &jwt(&forged), &attacker).await;
        refused_by_resource(&v, 401, "invalid_auth_token", "signature");
        // A genuine token presented by a key other than cnf.jwk.
        let v = e.get("/auth", &jwt(&token), &attacker).await;
        refused_by_resource(
            &v,
            401,
            "invalid_signature",
            "signature verification failed",
        );
        // A JWT that is not one.
        let v = e.get("/auth", &jwt("not.a.jwt"), &e.agent_key).await;
        assert_eq!(v.0 / 100, 4, "{}", v.1);
        assert!(v.1["error"].is_string(), "{}", v.1);
        // Both right.
        ok(&e.get("/auth", &jwt(&token), &e.agent_key).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l16_legacy_hwk_must_not_carry_alg() {
    bounded(async {
        let e = Env::start().await;
        let k = SigningKey::from_seed(&[5; 32]);
        let sk = e
            .hwk_key(&k)
            .replacen("scheme=hwk ", "scheme=hwk alg=\"EdDSA\" ", 1);
        let v = e.get("/sig", &sk, &k).await;
        refused_by_resource(&v, 400, "invalid_request", "`alg` not allowed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l17_agent_token_checks() {
    bounded(async {
        let e = Env::start().await;
        let delegate = SigningKey::from_seed(&[11; 32]);
        let exp = e.now() + 300;
        let claims = |exp: u64| {
            AgentClaims::new(
                &e.agent_id,
                "delegate-1",
                delegate.public_jwk(),
                UnixTime::from_secs(exp),
            )
        };
        let jwt = |t: &str| KeyScheme::Jwt { jwt: t.into() }.to_header("sig1").unwrap();
        let good = claims(exp).sign(e.agent_key.as_ref()).unwrap();
        let v = e.get("/id", &jwt(&good), &delegate).await;
        ok(&v);
        assert_eq!(v.1["agent"], e.agent_id.as_str());

        let expired = claims(e.now() - 1).sign(e.agent_key.as_ref()).unwrap();
        let elsewhere = claims(exp)
            .with_audience("https://other.example")
            .sign(e.agent_key.as_ref())
            .unwrap();
        let self_signed = claims(exp)
            .sign(&SigningKey::from_seed(&[11; 32]).with_kid("key-1"))
            .unwrap();
        for (token, phrase) in [
            (expired, "expired"),
            (elsewhere, "audience"),
            (self_signed, "signature"),
        ] {
            let v = e.get("/id", &jwt(&token), &delegate).await;
            refused_by_resource(&v, 401, "invalid_agent_token", phrase);
        }
        // A valid agent token, but the request is signed by the agent server key.
        let v = e.get("/id", &jwt(&good), &e.agent_key).await;
        refused_by_resource(
            &v,
            401,
            "invalid_signature",
            "signature verification failed",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l18_resource_token_checked_by_the_auth_server() {
    bounded(async {
        let e = Env::start().await;
        let (jkt, now) = (e.agent_jkt(), e.now());
        let e = &e;
        let call = |rt: String| async move {
            e.token_call(&[
                ("request_type", "auth"),
                ("resource_token", &rt),
                ("redirect_uri", &e.callback),
            ])
            .await
        };
        ok(&call(e.resource_token(&e.issuer, &e.agent_id, &jkt, "data.read", now + 300)).await);
        let other = "http://127.0.0.1:9";
        for (rt, phrase) in [
            (
                e.resource_token(other, &e.agent_id, &jkt, "data.read", now + 300),
                "audience",
            ),
            (
                e.resource_token(&e.issuer, other, &jkt, "data.read", now + 300),
                "Agent claim mismatch",
            ),
            (
                e.resource_token(&e.issuer, &e.agent_id, "not-my-key", "data.read", now + 300),
                "agent_jkt mismatch",
            ),
            (
                e.resource_token(&e.issuer, &e.agent_id, &jkt, "data.read", now - 1),
                "expired",
            ),
            // Signed by a key the resource does not publish (same kid).
            (
                ResourceClaims::with_scope(
                    e.resource.as_str(),
                    &e.issuer,
                    &e.agent_id,
                    &jkt,
                    "data.read",
                    UnixTime::from_secs(now + 300),
                )
                .sign(&SigningKey::from_seed(&[3; 32]).with_kid("resource-key-1"))
                .unwrap(),
                "signature",
            ),
            // An auth token where a resource token is expected.
            (e.auth_token().await, "typ must be resource+jwt"),
        ] {
            refused(&call(rt).await, 400, "invalid_resource_token", phrase);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l19_auth_token_checked_by_the_resource() {
    bounded(async {
        let e = Env::start().await;
        let jwt = |t: &str| KeyScheme::Jwt { jwt: t.into() }.to_header("sig1").unwrap();
        let token = e.auth_token().await;
        ok(&e.get("/auth", &jwt(&token), &e.agent_key).await);
        // The granted scope does not cover the route: a new challenge with invalid_scope.
        let v = e.get("/user", &jwt(&token), &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_scope", "scope");
        assert!(
            v.1["_agent_auth"]
                .as_str()
                .unwrap()
                .contains("resource_token=")
        );
        // Expired: move the shared clock past exp (1 h default lifetime).
        e.clock.advance(3_601);
        let v = e.get("/auth", &jwt(&token), &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_auth_token", "expired");
        // Untrusted issuer and wrong audience: see e2e_flows
        // `wrong_audience_and_untrusted_issuer_are_refused`; a resource token is not an
        // auth token.
        let rt = e.resource_token(
            &e.issuer,
            &e.agent_id,
            &e.agent_jkt(),
            "data.read",
            e.now() + 60,
        );
        let v = e.get("/auth", &jwt(&rt), &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_token", "not accepted");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l21_token_request_parameters() {
    bounded(async {
        let e = Env::start().await;
        let cb = e.callback.as_str();
        let rt = e.resource_token(
            &e.issuer,
            &e.agent_id,
            &e.agent_jkt(),
            "data.read",
            e.now() + 300,
        );
        for (params, status, code, phrase) in [
            (
                vec![("redirect_uri", cb)],
                400,
                "invalid_request",
                "Missing request_type",
            ),
            (
                vec![("request_type", "device_code")],
                400,
                "unsupported_request_type",
                "Unsupported request_type",
            ),
            (
                vec![("request_type", "auth"), ("resource_token", &rt)],
                400,
                "invalid_request",
                "Missing redirect_uri",
            ),
            (
                vec![("request_type", "auth"), ("redirect_uri", cb)],
                400,
                "invalid_request",
                "exactly one of",
            ),
            (
                vec![
                    ("request_type", "auth"),
                    ("resource_token", &rt),
                    ("scope", "data.read"),
                    ("redirect_uri", cb),
                ],
                400,
                "invalid_request",
                "exactly one of",
            ),
            (
                vec![("request_type", "code"), ("redirect_uri", cb)],
                400,
                "invalid_request",
                "Missing code",
            ),
            (
                vec![("request_type", "refresh")],
                400,
                "invalid_request",
                "Missing refresh_token",
            ),
            (
                vec![("request_type", "exchange")],
                400,
                "invalid_request",
                "Missing resource_token",
            ),
            (
                vec![("request_type", "auth"), ("request_type", "code")],
                400,
                "invalid_request",
                "Duplicate parameter",
            ),
        ] {
            refused(&e.token_call(&params).await, status, code, phrase);
        }
        // Unsigned and pseudonymous token requests.
        let body = form(&[("request_type", "refresh"), ("refresh_token", "x")]);
        let v = Raw::post("/agent/token", &body)
            .send(&e.http, &e.issuer)
            .await;
        refused(&v, 401, "invalid_request", "missing");
        let k = SigningKey::from_seed(&[5; 32]);
        let v = Raw::post("/agent/token", &body)
            .signed(&e.issuer_authority, &e.hwk_key(&k), &k, &e.input(BODY))
            .send(&e.http, &e.issuer)
            .await;
        refused(&v, 401, "invalid_request", "Pseudonymous");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l22_direct_scope_binds_the_agent_as_resource() {
    bounded(async {
        let e = Env::start().await;
        let (s, v) = e
            .token_call(&[
                ("request_type", "auth"),
                ("scope", "data.read"),
                ("redirect_uri", &e.callback),
            ])
            .await;
        assert_eq!(s, 200, "{v}");
        let t = v["auth_token"].as_str().unwrap();
        let payload: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                t.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        // The verified agent is the audience; no `agent` claim (L§7.3).
        assert_eq!(payload["aud"], e.agent_id.as_str());
        assert!(payload.get("agent").is_none(), "{payload}");
        // Such a token is not for our resource.
        let jwt = KeyScheme::Jwt { jwt: t.into() }.to_header("sig1").unwrap();
        let v = e.get("/auth", &jwt, &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_auth_token", "audience");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l23_request_token_code_and_redirect_rules() {
    bounded(async {
        let e = Env::start().await;
        let rt = e.resource_token(
            &e.issuer,
            &e.agent_id,
            &e.agent_jkt(),
            "user.read",
            e.now() + 300,
        );
        let (s, v) = e
            .token_call(&[
                ("request_type", "auth"),
                ("resource_token", &rt),
                ("redirect_uri", &e.callback),
            ])
            .await;
        assert_eq!(s, 200, "{v}");
        let request_token = v["request_token"]
            .as_str()
            .expect("consent needed")
            .to_owned();
        assert!(v["expires_in"].as_u64().unwrap() <= 600, "short-lived: {v}");

        // Consent with a redirect_uri other than the one of the auth request.
        let page = format!("{}/agent/auth", e.issuer);
        let r = e
            .http
            .get(&page)
            .query(&[
                ("request_token", request_token.as_str()),
                ("redirect_uri", "http://127.0.0.1:1/cb"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        // The consent flow: login, grant, 303 to redirect_uri?code= (L-24).
        let fields = |extra: &[(&'static str, &'static str)]| {
            let mut f = vec![
                ("request_token", request_token.clone()),
                ("redirect_uri", e.callback.clone()),
            ];
            f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            f
        };
        let r = e.http.get(&page).query(&fields(&[])).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = e
            .http
            .post(&page)
            .form(&fields(&[
                ("action", "login"),
                ("username", "alice"),
                ("password", "secret"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let r = e
            .http
            .post(&page)
            .form(&fields(&[("consent", "grant")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "L-24: 303 See Other");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{}?", e.callback)),
            "{location}"
        );
        let code = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code");

        // Redirect mismatch at redemption.
        let v = e
            .token_call(&[
                ("request_type", "code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:1/cb"),
            ])
            .await;
        refused(&v, 400, "invalid_grant", "redirect_uri mismatch");
        // The code was consumed by that attempt: single use, even after a failure.
        let v = e
            .token_call(&[
                ("request_type", "code"),
                ("code", &code),
                ("redirect_uri", &e.callback),
            ])
            .await;
        refused(
            &v,
            400,
            "invalid_grant",
            "Invalid or expired authorization code",
        );

        // A fresh code, redeemed once, then replayed.
        // (The request token is consumed by the consent; start over.)
        let (_, v) = e
            .token_call(&[
                ("request_type", "auth"),
                ("resource_token", &rt),
                ("redirect_uri", &e.callback),
            ])
            .await;
        let request_token = v["request_token"].as_str().unwrap().to_owned();
        // An expired request token (10 min): the consent page refuses it.
        e.clock.advance(601);
        let r = e
            .http
            .get(&page)
            .query(&[
                ("request_token", request_token.as_str()),
                ("redirect_uri", e.callback.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("expired"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l25_exchange_needs_the_upstream_token_in_signature_key() {
    bounded(async {
        let e = Env::start().await;
        let rt = e.resource_token(
            &e.issuer,
            &e.agent_id,
            &e.agent_jkt(),
            "data.read",
            e.now() + 300,
        );
        // scheme=jwks instead of scheme=jwt with the upstream auth token.
        let v = e
            .token_call(&[("request_type", "exchange"), ("resource_token", &rt)])
            .await;
        refused(&v, 401, "invalid_request", "scheme=jwt");
        // An upstream token from an auth server this one does not trust for exchange.
        let upstream = AuthClaims::new(
            "http://127.0.0.1:9",
            e.agent_id.as_str(),
            e.agent_key.public_jwk(),
            UnixTime::from_secs(e.now() + 300),
        )
        .with_agent(&e.resource)
        .sign(&SigningKey::from_seed(&[8; 32]).with_kid("k"))
        .unwrap();
        let jwt = KeyScheme::Jwt { jwt: upstream }.to_header("sig1").unwrap();
        let body = form(&[("request_type", "exchange"), ("resource_token", &rt)]);
        let v = Raw::post("/agent/token", &body)
            .signed(&e.issuer_authority, &jwt, &e.agent_key, &e.input(BODY))
            .send(&e.http, &e.issuer)
            .await;
        refused(&v, 401, "invalid_token", "not trusted");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l28_metadata_documents() {
    bounded(async {
        let e = Env::start().await;
        let get = |u: String| {
            let http = e.http.clone();
            async move {
                let r = http.get(u).send().await.unwrap();
                assert_eq!(r.status(), 200);
                serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap()
            }
        };
        let m = get(format!("{}/.well-known/aauth-issuer", e.issuer)).await;
        for f in [
            "issuer",
            "jwks_uri",
            "agent_token_endpoint",
            "agent_auth_endpoint",
            "agent_signing_algs_supported",
            "request_types_supported",
        ] {
            assert!(!m[f].is_null(), "issuer metadata lacks {f}: {m}");
        }
        assert_eq!(m["issuer"], e.issuer.as_str());
        let m = get(format!("{}/.well-known/aauth-resource", e.resource)).await;
        for f in ["resource", "jwks_uri", "resource_token_endpoint"] {
            assert!(!m[f].is_null(), "resource metadata lacks {f}: {m}");
        }
        let m = get(format!("{}/.well-known/aauth-agent", e.agent_id)).await;
        for f in ["agent", "jwks_uri"] {
            assert!(!m[f].is_null(), "agent metadata lacks {f}: {m}");
        }
        let jwks = get(m["jwks_uri"].as_str().unwrap().to_owned()).await;
        assert_eq!(jwks["keys"][0]["kid"], "key-1");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l29_malformed_signature_headers_are_json_errors() {
    bounded(async {
        let e = Env::start().await;
        let (a, k, key) = (&e.resource_authority, e.jwks_key(), &e.agent_key);
        let good = Raw::get("/sig").signed(a, &k, key, &e.input(GET));
        for (name, value, status, code) in [
            (
                "signature-input",
                "sig1=(\"@method\"",
                400,
                "invalid_request",
            ),
            ("signature", "sig1=:not base64:", 400, "invalid_request"),
            ("signature-key", "sig1=(scheme=", 400, "invalid_request"),
            ("signature-key", "\u{7f}", 400, "invalid_request"),
        ] {
            let mut r = good.clone().without(name);
            if value.is_ascii() && !value.contains('\u{7f}') {
                r = r.header(name, value);
            } else {
                r = r.header(name, "sig1=(");
            }
            let v = r.send(&e.http, &e.resource).await;
            assert_eq!(
                (v.0, v.1["error"].as_str()),
                (status, Some(code)),
                "{name}: {}",
                v.1
            );
            assert!(v.1["error_description"].is_string());
        }
    })
    .await;
}

// ---- 5.2 Signature-Key -09 items that apply to our generation ---------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s02_unknown_scheme_is_unsupported_scheme() {
    bounded(async {
        let e = Env::start().await;
        for sk in [
            r#"sig1=(scheme=jkt-jwt jwt="a.b.c")"#,
            r#"sig1=cached;cid="x""#,
        ] {
            let v = e.get("/sig", sk, &e.agent_key).await;
            refused_by_resource(&v, 401, "unsupported_scheme", "unsupported");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06_s08_key_and_alg_must_agree() {
    bounded(async {
        let e = Env::start().await;
        let k = SigningKey::from_seed(&[5; 32]);
        let x = k.public_jwk().x.unwrap();
        // Structured-field hwk (SK -09 §3.4) with the right alg verifies.
        let good = format!(r#"sig1=hwk;kty="OKP";crv="Ed25519";x="{x}";alg="Ed25519""#);
        ok(&e.get("/sig", &good, &k).await);
        for alg in ["ES256", "RS256", "PS256", "none", "HS256"] {
            let sk = format!(r#"sig1=hwk;kty="OKP";crv="Ed25519";x="{x}";alg="{alg}""#);
            let v = e.get("/sig", &sk, &k).await;
            refused_by_resource(&v, 401, "unsupported_algorithm", "alg");
        }
        // S-09: a key type we do not implement.
        let sk = r#"sig1=hwk;kty="AKP";alg="ML-DSA-44";pub="AAAA""#;
        let v = e.get("/sig", sk, &k).await;
        refused_by_resource(&v, 401, "unsupported_algorithm", "unsupported hwk key type");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_alg_parameter_in_signature_input_is_ignored() {
    bounded(async {
        let e = Env::start().await;
        let input = format!("sig1=({GET});created={};alg=\"rsa-pss-sha512\"", e.now());
        let r = Raw::get("/sig").signed(&e.resource_authority, &e.jwks_key(), &e.agent_key, &input);
        ok(&r.send(&e.http, &e.resource).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_structured_hwk_must_not_carry_kid() {
    bounded(async {
        let e = Env::start().await;
        let k = SigningKey::from_seed(&[5; 32]);
        let x = k.public_jwk().x.unwrap();
        let sk = format!(r#"sig1=hwk;kty="OKP";crv="Ed25519";x="{x}";alg="Ed25519";kid="k1""#);
        let v = e.get("/sig", &sk, &k).await;
        refused_by_resource(&v, 400, "invalid_request", "`kid` not allowed");
    })
    .await;
}

/// S-22: egress admission before any fetch. Under the default policy (https only, no
/// loopback/private/link-local), key locations pointing inside are refused without traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s22_egress_admission_before_fetch() {
    bounded(async {
        let e = Env::start_with(EgressPolicy::default(), DiscoveryConfig::default()).await;
        for id in [
            e.agent_id.clone(),                        // http + loopback
            "https://127.0.0.1".to_owned(),            // loopback
            "https://10.0.0.1".to_owned(),             // private
            "https://169.254.169.254".to_owned(),      // link-local / cloud metadata
            "https://[fe80::1]".to_owned(),            // link-local v6
            "https://[::ffff:192.168.0.1]".to_owned(), // mapped private
        ] {
            let sk =
                format!(r#"sig1=(scheme=jwks id="{id}" kid="key-1" well-known="aauth-agent")"#);
            let v = e.get("/sig", &sk, &e.agent_key).await;
            refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        }
        // A JWKS URL (mode 1) and an agent token whose issuer are internal addresses.
        let sk =
            r#"sig1=(scheme=jwks jwks="https://169.254.169.254/latest/meta-data/jwks" kid="k")"#;
        let v = e.get("/sig", sk, &e.agent_key).await;
        refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        let delegate = SigningKey::from_seed(&[11; 32]);
        let token = AgentClaims::new(
            "https://10.0.0.1",
            "delegate-1",
            delegate.public_jwk(),
            UnixTime::from_secs(e.now() + 300),
        )
        .sign(&SigningKey::from_seed(&[12; 32]).with_kid("k"))
        .unwrap();
        let sk = KeyScheme::Jwt { jwt: token }.to_header("sig1").unwrap();
        let v = e.get("/id", &sk, &delegate).await;
        refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        assert_eq!(
            e.resource_cfg.fetcher().stats().jwks_fetches
                + e.resource_cfg.fetcher().stats().metadata_fetches,
            0
        );
    })
    .await;
}

/// S-23 / S-24: a flood of requests naming unknown kids and distinct bogus agents keeps the
/// discovery cache bounded and the outbound fetches within the refetch floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s23_s24_refetch_floor_and_cache_limits() {
    bounded(async {
        let mut config = DiscoveryConfig::default();
        config.max_entries = 32;
        let e = Env::start_with(EgressPolicy::dev(), config).await;
        ok(&e.get("/id", &e.jwks_key(), &e.agent_key).await);
        let warm = e.resource_cfg.fetcher().stats();
        // 50 unknown kids of the real agent: at most one refetch within the minute.
        for i in 0..50 {
            let sk = e.jwks_key().replace("key-1", &format!("bogus-{i}"));
            let v = e.get("/sig", &sk, &e.agent_key).await;
            refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        }
        let after = e.resource_cfg.fetcher().stats();
        assert!(after.jwks_fetches - warm.jwks_fetches <= 1, "{warm:?} → {after:?}");
        // 200 distinct bogus agent ids (a closed loopback port): the cache stays bounded.
        for i in 0..200 {
            let sk = format!(r#"sig1=(scheme=jwks id="http://127.0.0.1:9/a{i}" kid="k" well-known="aauth-agent")"#);
            let v = e.get("/sig", &sk, &e.agent_key).await;
            refused_by_resource(&v, 401, "invalid_signature", "could not be resolved");
        }
        let d = e.resource_cfg.fetcher();
        assert!(d.len() <= 32, "{} entries, {:?}", d.len(), d.stats());
        assert!(d.stats().evictions > 0, "{:?}", d.stats());
    })
    .await;
}

/// L-29 over hostile input: form bodies of the token endpoint, queries and forms of the
/// consent page, and signature header values at the resource, drawn at random from
/// alphabets rich in the characters their parsers treat specially. Every answer is a 4xx
/// with an error body, never a 5xx, and both servers keep serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l29_hostile_inputs_are_4xx_never_5xx() {
    bounded(async {
        let e = Env::start().await;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let form_chars = b"=&%+;a_-.09ZFf\x00\xff\xc3\x28 \"'<>request_typeauthcodeDUP";
        let sf_chars = b"sig1=():;,\"\\ ?*@-_.+/abcdefghijklmnopqrstuvwxyzAZ09\t";
        for i in 0..300 {
            let body = rng.bytes(form_chars, 200);
            let r = e
                .http
                .post(format!("{}/agent/token", e.issuer))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .expect("issuer alive");
            let s = r.status().as_u16();
            assert!((400..500).contains(&s), "#{i} token {body:?} → {s}");
            let v: Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).expect("JSON error body");
            assert!(v["error"].is_string(), "{v}");

            let query = String::from_utf8_lossy(&rng.bytes(form_chars, 120)).into_owned();
            let url = format!(
                "{}/agent/auth?{}",
                e.issuer,
                query.replace(['#', ' '], "%20")
            );
            let r = e.http.get(url).send().await.expect("issuer alive");
            let s = r.status().as_u16();
            assert!((400..500).contains(&s), "#{i} consent GET {query:?} → {s}");
            let r = e
                .http
                .post(format!("{}/agent/auth", e.issuer))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(rng.bytes(form_chars, 200))
                .send()
                .await
                .expect("issuer alive");
            let s = r.status().as_u16();
            assert!((400..500).contains(&s), "#{i} consent POST → {s}");

            let mut raw = Raw::get("/sig").signed(
                &e.resource_authority,
                &e.jwks_key(),
                &e.agent_key,
                &e.input(GET),
            );
            let which = (rng.next() % 3) as usize;
            let value = rng.bytes(sf_chars, 160);
            let name = ["signature-input", "signature", "signature-key"][which];
            raw = raw.without(name);
            if let Ok(v) = std::str::from_utf8(&value)
                && reqwest::header::HeaderValue::from_str(v).is_ok()
            {
                raw = raw.header(name, v);
            }
            let (s, v) = raw.send(&e.http, &e.resource).await;
            assert!((400..500).contains(&s), "#{i} {name}: {value:?} → {s} {v}");
            assert!(v["error"].is_string(), "{v}");
        }
        ok(&e.get("/sig", &e.jwks_key(), &e.agent_key).await);
    })
    .await;
}
