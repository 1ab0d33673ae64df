//! Whole-request verification (`aauth_core::verify`) over the reference's signed requests
//! and negative tests for the checklist items decided there (digest §5.1 L-02, L-12, L-15,
//! L-17, L-19), each named after its item.

use aauth_core::httpsig::{SignOptions, VerifyPolicy, sign_request};
use aauth_core::signature_key::KeyScheme;
use aauth_core::token::{AgentClaims, AuthClaims};
use aauth_core::verify::{
    Identity, KeyRequest, KeySource, ResolvedKey, TokenPolicy, VerifyError, verify_request,
};
use aauth_core::{ErrorCode, Jwks, ProtocolError, Signer, SigningKey, UnixTime};
use aauth_tests::{OwnedRequest, reference_key, reference_suite};
use serde_json::Value;

const RESOURCE: &str = "http://127.0.0.1:8002";
const AUTH: &str = "http://127.0.0.1:8003";
const AGENT: &str = "http://127.0.0.1:8001";

/// The reference's offline JWKS directory as a resolver: `{id}/.well-known/*` → the id's
/// JWKS. Records what was asked, so tests can assert what the core requested.
struct Offline {
    jwks: Value,
    asked: std::cell::RefCell<Vec<String>>,
}

impl Offline {
    fn new() -> Self {
        Self {
            jwks: reference_suite()["offline_jwks"].clone(),
            asked: Default::default(),
        }
    }
}

impl aauth_core::verify::KeyResolver for Offline {
    fn resolve(&self, req: &KeyRequest<'_>) -> Option<std::sync::Arc<ResolvedKey>> {
        let id = match req.source {
            KeySource::Metadata { id, .. } => id,
            KeySource::Jwks(url) => url,
            _ => return None,
        };
        self.asked
            .borrow_mut()
            .push(format!("{id} {:?}", req.purpose));
        let set: Jwks = serde_json::from_value(self.jwks.get(id)?.clone()).ok()?;
        ResolvedKey::select(&set, req.kid)
            .ok()
            .map(std::sync::Arc::new)
    }
}

fn wire_request(case: &Value) -> OwnedRequest {
    let input = &case["input"];
    let mut req = OwnedRequest::new(
        input["method"].as_str().unwrap(),
        input["target_uri"].as_str().unwrap(),
    );
    for (k, v) in case["expected"]["wire_headers"].as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    if let Some(body) = input["body"].as_str() {
        req = req.body(body.as_bytes());
    }
    req
}

fn case(id: &str) -> Value {
    aauth_tests::reference_case(id)
}

fn at(case: &Value) -> UnixTime {
    UnixTime::from_secs(case["verify"]["at"].as_u64().unwrap())
}

fn tokens(aud: &'static str) -> TokenPolicy<'static> {
    TokenPolicy::new(aud).with_trusted_issuers(&[AUTH])
}

fn verify(
    req: &OwnedRequest,
    tokens: &TokenPolicy<'_>,
    now: UnixTime,
) -> Result<Identity, VerifyError> {
    let r = Offline::new();
    req.with_parts(|p| verify_request(p, &r, &VerifyPolicy::default(), tokens, now))
        .map(|v| v.identity().clone())
}

#[test]
fn reference_jwks_requests_verify_as_the_agent() {
    for id in ["sig-get-jwks", "sig-get-jwks-query", "sig-post-jwks-digest"] {
        let c = case(id);
        let aud = if id == "sig-post-jwks-digest" {
            AUTH
        } else {
            RESOURCE
        };
        let r = Offline::new();
        let v = wire_request(&c)
            .with_parts(|p| verify_request(p, &r, &VerifyPolicy::default(), &tokens(aud), at(&c)))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(v.agent(), Some(AGENT), "{id}");
        // The agent_jkt the reference computed for this key.
        assert_eq!(
            v.signer_thumbprint(),
            "AtEzVJxjvy4-kaH9vXIKkMPAB1D73oftP16uAiZiEqI"
        );
        assert_eq!(r.asked.borrow().as_slice(), [format!("{AGENT} Signer")]);
    }
}

#[test]
fn reference_hwk_request_verifies_pseudonymously() {
    let c = case("sig-get-hwk");
    assert!(matches!(
        verify(&wire_request(&c), &tokens(RESOURCE), at(&c)),
        Ok(Identity::Pseudonymous)
    ));
}

#[test]
fn reference_auth_token_request_verifies_with_claims() {
    let c = case("sig-get-jwt-auth-token");
    let r = Offline::new();
    let v = wire_request(&c)
        .with_parts(|p| verify_request(p, &r, &VerifyPolicy::default(), &tokens(RESOURCE), at(&c)))
        .unwrap();
    let t = v.auth_token().expect("auth token");
    assert_eq!(t.scope.as_deref(), Some("data.read data.write"));
    assert_eq!(v.agent(), Some(AGENT));
    assert_eq!(r.asked.borrow().as_slice(), [format!("{AUTH} AuthToken")]);
    // scheme=jwt: the signer is the token's cnf.jwk; its thumbprint is computed on demand.
    assert_eq!(v.signer_jwk(), &t.cnf.jwk);
    let jkt = t.cnf.jwk.thumbprint().unwrap();
    assert_eq!(v.signer_thumbprint(), jkt);
    assert_eq!(
        v.clone().signer_thumbprint(),
        jkt,
        "a clone before or after first use"
    );
}

#[test]
fn reference_agent_token_request_verifies_as_delegate() {
    let c = case("sig-get-jwt-agent-token");
    let Identity::Delegate { token } =
        verify(&wire_request(&c), &tokens(RESOURCE), at(&c)).unwrap()
    else {
        panic!("expected a delegate")
    };
    assert_eq!(token.iss, AGENT);
    assert_eq!(token.sub, "delegate-1");
}

/// Digest §2.8(f) / D9: the exchange request carries the upstream token but is signed with
/// the intermediary's key; verifying it like any scheme=jwt request must fail (the
/// reference's own verdict is `false` too). The auth server handles it specially.
#[test]
fn reference_exchange_request_fails_plain_jwt_verification() {
    let c = case("sig-post-jwt-exchange");
    let tokens = TokenPolicy::new("http://127.0.0.1:8002").with_trusted_issuers(&[AUTH]);
    let err = verify(&wire_request(&c), &tokens, at(&c)).unwrap_err();
    assert!(matches!(err, VerifyError::Signature(_)), "{err}");
}

#[test]
fn l02_two_signature_key_members_rejected() {
    let c = case("sig-get-jwks");
    let sk = c["expected"]["signature_key"].as_str().unwrap();
    let req = wire_request(&c).set(
        "Signature-Key",
        &format!("{sk}, sig2=(scheme=hwk kty=\"OKP\")"),
    );
    let err = verify(&req, &tokens(RESOURCE), at(&c)).unwrap_err();
    assert!(matches!(err, VerifyError::SignatureKey(_)), "{err}");
}

#[test]
fn l12_jwks_with_both_jwks_and_id_rejected_before_any_fetch() {
    let agent = reference_key("agent");
    let sk = r#"sig1=(scheme=jwks jwks="http://127.0.0.1:8001/jwks.json" id="http://127.0.0.1:8001" kid="key-1")"#;
    let req = sign(
        OwnedRequest::new("GET", "http://127.0.0.1:8002/data"),
        sk,
        &agent,
    );
    let r = Offline::new();
    let err = req
        .with_parts(|p| verify_request(p, &r, &VerifyPolicy::default(), &tokens(RESOURCE), NOW))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    assert!(r.asked.borrow().is_empty());
}

const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);

fn sign(req: OwnedRequest, sk: &str, key: &SigningKey) -> OwnedRequest {
    let h = req
        .with_parts(|p| sign_request(p, sk, key, &SignOptions::new(NOW)))
        .unwrap();
    let mut out = req;
    for (n, v) in h.iter() {
        out = out.set(n, v);
    }
    out
}

fn jwt_request(token: &str, signer: &SigningKey) -> OwnedRequest {
    let sk = KeyScheme::Jwt { jwt: token.into() }
        .to_header("sig1")
        .unwrap();
    sign(
        OwnedRequest::new("GET", "http://127.0.0.1:8002/data-auth"),
        &sk,
        signer,
    )
}

fn auth_token(cnf: &SigningKey, issuer: &SigningKey, iss: &str, aud: &str, exp: u64) -> String {
    AuthClaims::new(iss, aud, cnf.public_jwk(), UnixTime::from_secs(exp))
        .with_agent(AGENT)
        .with_scope("data.read")
        .sign(issuer)
        .unwrap()
}

fn auth_key() -> SigningKey {
    reference_key("auth").with_kid("auth-key-1")
}

#[test]
fn l15_jwt_token_validated_before_cnf_is_trusted() {
    let agent = reference_key("agent");
    // A token signed by a key the auth server never published (forged), bound to the
    // attacker: the request signature is good under cnf.jwk, the token is not.
    let attacker = reference_key("attacker");
    let forged = auth_token(
        &attacker,
        &reference_key("attacker").with_kid("auth-key-1"),
        AUTH,
        RESOURCE,
        NOW.as_secs() + 600,
    );
    let err = verify(
        &jwt_request(&forged, &reference_key("attacker")),
        &tokens(RESOURCE),
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken, "{err}");
    // A valid token, but the request is signed by someone other than cnf.jwk.
    let good = auth_token(&agent, &auth_key(), AUTH, RESOURCE, NOW.as_secs() + 600);
    let err = verify(
        &jwt_request(&good, &reference_key("attacker")),
        &tokens(RESOURCE),
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Signature(_)), "{err}");
    // Both right: accepted.
    verify(&jwt_request(&good, &agent), &tokens(RESOURCE), NOW).unwrap();
}

/// L-15 when both signatures are checked at once (they share a field inversion): the
/// token's errors still come before the request's, whichever is wrong, and a `cnf.jwk`
/// that cannot be used is reported only for a token that verified.
#[test]
fn l15_token_errors_come_first_when_both_signatures_are_checked_together() {
    let agent = reference_key("agent");
    let attacker = reference_key("attacker");
    let exp = NOW.as_secs() + 600;
    let forged_issuer = reference_key("attacker").with_kid("auth-key-1");
    // The token's signature and the request's are both wrong.
    let forged = auth_token(&agent, &forged_issuer, AUTH, RESOURCE, exp);
    let err = verify(&jwt_request(&forged, &attacker), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken, "{err}");
    // The token is signed well but expired, and the request's signature is wrong.
    let expired = auth_token(&agent, &auth_key(), AUTH, RESOURCE, NOW.as_secs());
    let err = verify(&jwt_request(&expired, &attacker), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken, "{err}");
    // A weak (small-order) `cnf` key: the token's signature decides first.
    let weak = |issuer: &SigningKey| {
        AuthClaims::new(
            AUTH,
            RESOURCE,
            aauth_core::Jwk::ed25519(&[0; 32], None),
            UnixTime::from_secs(exp),
        )
        .with_agent(AGENT)
        .with_scope("data.read")
        .sign(issuer)
        .unwrap()
    };
    let err = verify(
        &jwt_request(&weak(&forged_issuer), &agent),
        &tokens(RESOURCE),
        NOW,
    );
    assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidAuthToken);
    let err = verify(
        &jwt_request(&weak(&auth_key()), &agent),
        &tokens(RESOURCE),
        NOW,
    );
    assert!(matches!(err, Err(VerifyError::Key(_))), "{err:?}");
}

#[test]
fn l17_agent_token_checks() {
    let agent_server = reference_key("agent").with_kid("key-1");
    let delegate = reference_key("agent_delegate");
    let claims = |exp: u64| {
        AgentClaims::new(
            AGENT,
            "delegate-1",
            delegate.public_jwk(),
            UnixTime::from_secs(exp),
        )
    };
    let ok = claims(NOW.as_secs() + 600).sign(&agent_server).unwrap();
    verify(&jwt_request(&ok, &delegate), &tokens(RESOURCE), NOW).unwrap();
    // Expired.
    let expired = claims(NOW.as_secs()).sign(&agent_server).unwrap();
    let err = verify(&jwt_request(&expired, &delegate), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAgentToken);
    // An audience that is not us.
    let elsewhere = claims(NOW.as_secs() + 600)
        .with_audience("https://other.example")
        .sign(&agent_server)
        .unwrap();
    let err = verify(&jwt_request(&elsewhere, &delegate), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAgentToken);
    // Signed by the delegate itself instead of the agent server.
    let selfsigned = claims(NOW.as_secs() + 600)
        .sign(&rekeyed(&delegate, "key-1"))
        .unwrap();
    let err = verify(&jwt_request(&selfsigned, &delegate), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAgentToken);
}

/// The same private key under another `kid`.
fn rekeyed(k: &SigningKey, kid: &str) -> SigningKey {
    SigningKey::from_seed(&k.seed()).with_kid(kid)
}

#[test]
fn l19_auth_token_checks() {
    let agent = reference_key("agent");
    let exp = NOW.as_secs() + 600;
    // Wrong audience.
    let t = auth_token(&agent, &auth_key(), AUTH, "http://127.0.0.1:9999", exp);
    let err = verify(&jwt_request(&t, &agent), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken);
    // Untrusted issuer: refused before any key is requested.
    let t = auth_token(&agent, &auth_key(), "http://127.0.0.1:8004", RESOURCE, exp);
    let r = Offline::new();
    let err = jwt_request(&t, &agent)
        .with_parts(|p| verify_request(p, &r, &VerifyPolicy::default(), &tokens(RESOURCE), NOW))
        .unwrap_err();
    assert_eq!(err, VerifyError::UntrustedIssuer);
    assert!(r.asked.borrow().is_empty());
    // Expired.
    let t = auth_token(&agent, &auth_key(), AUTH, RESOURCE, NOW.as_secs());
    let err = verify(&jwt_request(&t, &agent), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken);
    // A resource token presented where an auth token is expected.
    let rt = aauth_core::token::ResourceClaims::with_scope(
        RESOURCE,
        AUTH,
        AGENT,
        "jkt",
        "data.read",
        UnixTime::from_secs(exp),
    )
    .sign(&reference_key("resource").with_kid("resource-key-1"))
    .unwrap();
    let err = verify(&jwt_request(&rt, &agent), &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err, VerifyError::TokenTypeNotAccepted);
}

/// L-14: `scheme=x509` parses, but chain validation is not implemented, so verification
/// refuses it with `unsupported_scheme` rather than trusting an unchecked certificate.
#[test]
fn l14_x509_scheme_refused_for_verification() {
    let agent = reference_key("agent");
    let sk = r#"sig1=(scheme=x509 x5u="https://agent.example/cert.pem" x5t="bWcoon4QTVn8Q6xiY0ekMD6L8bNLMkuDV2KtvsFc1nM")"#;
    let req = sign(
        OwnedRequest::new("GET", "http://127.0.0.1:8002/data"),
        sk,
        &agent,
    );
    let err = verify(&req, &tokens(RESOURCE), NOW).unwrap_err();
    assert_eq!(err, VerifyError::UnsupportedScheme);
    assert_eq!(err.code(), ErrorCode::UnsupportedScheme);
}

/// L-18: what the core decides about a resource token at the auth server: `typ`, the
/// resource's signature, `aud` = this auth server, `exp`, exactly one of `scope` and
/// `auth_request_url`. (`agent` / `agent_jkt` against the requester: `aauth-issuer` tests.)
#[test]
fn l18_resource_token_checks() {
    use aauth_core::token::ResourceClaims;
    let resource = reference_key("resource").with_kid("resource-key-1");
    let exp = UnixTime::from_secs(NOW.as_secs() + 300);
    let claims = || ResourceClaims::with_scope(RESOURCE, AUTH, AGENT, "jkt", "data.read", exp);
    let check = |token: &str, at: UnixTime| {
        let v = aauth_core::Validation::issuer(RESOURCE).with_audience(AUTH);
        aauth_core::UnverifiedToken::parse(token)
            .and_then(|t| t.verify::<ResourceClaims>(&resource.public_key(), &v, at))
            .map(|_| ())
            .map_err(|e| e.code())
    };
    let good = claims().sign(&resource).unwrap();
    assert_eq!(check(&good, NOW), Ok(()));
    assert_eq!(
        check(&good, exp),
        Err(ErrorCode::InvalidResourceToken),
        "expired"
    );
    let other_aud = ResourceClaims::with_scope(
        RESOURCE,
        "http://127.0.0.1:9999",
        AGENT,
        "jkt",
        "data.read",
        exp,
    )
    .sign(&resource)
    .unwrap();
    assert_eq!(
        check(&other_aud, NOW),
        Err(ErrorCode::InvalidResourceToken),
        "aud"
    );
    let mut both = claims();
    both.auth_request_url = Some("https://resource.example/req".into());
    assert_eq!(
        check(&both.sign(&resource).unwrap(), NOW),
        Err(ErrorCode::InvalidResourceToken)
    );
    let mut neither = claims();
    neither.scope = None;
    assert_eq!(
        check(&neither.sign(&resource).unwrap(), NOW),
        Err(ErrorCode::InvalidResourceToken)
    );
    // An auth token is not a resource token, even when signed by the right key.
    let auth_typed = AuthClaims::new(RESOURCE, AUTH, reference_key("agent").public_jwk(), exp)
        .with_agent(AGENT)
        .sign(&resource)
        .unwrap();
    assert_eq!(
        check(&auth_typed, NOW),
        Err(ErrorCode::InvalidResourceToken),
        "typ"
    );
    // Signed by someone else.
    let forged = claims()
        .sign(&reference_key("attacker").with_kid("resource-key-1"))
        .unwrap();
    assert_eq!(
        check(&forged, NOW),
        Err(ErrorCode::InvalidResourceToken),
        "signature"
    );
}

/// L-20: an auth token's `agent` is REQUIRED unless `aud` is the agent itself; without it the
/// agent is the single audience.
#[test]
fn l20_auth_token_agent_required_unless_aud_is_the_agent() {
    let agent = reference_key("agent");
    let exp = UnixTime::from_secs(NOW.as_secs() + 600);
    let v = aauth_core::Validation::issuer(AUTH).with_audience(AGENT);
    let check = |claims: AuthClaims| {
        let t = claims.sign(&auth_key()).unwrap();
        aauth_core::UnverifiedToken::parse(&t)
            .and_then(|t| t.verify::<AuthClaims>(&auth_key().public_key(), &v, NOW))
    };
    let sso = check(AuthClaims::new(AUTH, AGENT, agent.public_jwk(), exp)).unwrap();
    assert_eq!(sso.effective_agent(), Some(AGENT));
    let many = aauth_core::token::Audience::Many(vec![AGENT.into(), RESOURCE.into()]);
    let err = check(AuthClaims::new(AUTH, many, agent.public_jwk(), exp)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAuthToken);
}
