//! The `kind: "jwt"` cases of the Python reference vectors
//! (`shared/interop/python-ref/vectors.json`, PyPI `aauth==0.1.0`): every token is rebuilt
//! from the case's `input.args` with the key from `keys.json` and must match
//! `expected.compact` byte for byte, then verified with the suite's `offline_jwks` at
//! `verify.at`. The negative tests start from these tokens and break one thing each.

use aauth_core::error::{ErrorCode, ProtocolError};
use aauth_core::jwk::SelectError;
use aauth_core::jws::JwsError;
use aauth_core::token::{self, Actor, TokenErrorKind};
use aauth_core::{
    AgentClaims, AuthClaims, Jwk, Jwks, PublicKey, ResourceClaims, SigningKey, UnixTime,
    UnverifiedToken, Validation,
};
use aauth_tests::{read_json, shared_dir};
use serde_json::Value;

fn load(name: &str) -> Value {
    read_json(&shared_dir().join("interop/python-ref").join(name))
}

struct Suite {
    keys: Value,
    jwks: Value,
    now: u64,
    cases: Vec<Value>,
}

fn suite() -> Suite {
    let vectors = load("vectors.json");
    let s = &vectors["suites"]["aauth-0.1.0"];
    Suite {
        keys: load("keys.json")["keys"].clone(),
        jwks: s["offline_jwks"].clone(),
        now: s["clock"]["now"].as_u64().unwrap(),
        cases: s["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "jwt")
            .cloned()
            .collect(),
    }
}

fn jwk(v: &Value) -> Jwk {
    Jwk::from_json(v.to_string().as_bytes()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

impl Suite {
    fn signer(&self, role: &str) -> SigningKey {
        let k = &self.keys[role];
        SigningKey::from_private_jwk(&jwk(k), s(&k["d"])).unwrap()
    }

    fn issuer_key(&self, iss: &str, kid: Option<&str>) -> Result<PublicKey, SelectError> {
        let set = Jwks::from_json(self.jwks[iss].to_string().as_bytes()).unwrap();
        set.select(kid)
    }

    /// Rebuilds the token of a case from its library arguments.
    fn build(&self, case: &Value) -> String {
        let a = &case["input"]["args"];
        let exp = UnixTime::from_secs(a["exp"].as_u64().unwrap());
        let signer = self.signer(s(&a["private_key"]));
        let kid = a["kid"].as_str();
        match s(&case["input"]["library_function"]) {
            "aauth.create_resource_token" => {
                let c = ResourceClaims::with_scope(
                    s(&a["iss"]),
                    s(&a["aud"]),
                    s(&a["agent"]),
                    s(&a["agent_jkt"]),
                    s(&a["scope"]),
                    exp,
                );
                token::sign(&c, kid, &signer).unwrap()
            }
            "aauth.create_auth_token" => {
                let mut c = AuthClaims::new(s(&a["iss"]), s(&a["aud"]), jwk(&a["cnf_jwk"]), exp)
                    .with_scope(s(&a["scope"]))
                    .with_agent(s(&a["agent"]));
                if let Some(sub) = a["sub"].as_str() {
                    c = c.with_sub(sub);
                }
                if !a["act"].is_null() {
                    c = c.with_act(serde_json::from_value::<Actor>(a["act"].clone()).unwrap());
                }
                token::sign(&c, kid, &signer).unwrap()
            }
            "aauth.create_agent_token" => {
                let c = AgentClaims::new(s(&a["iss"]), s(&a["sub"]), jwk(&a["cnf_jwk"]), exp);
                token::sign(&c, kid, &signer).unwrap()
            }
            other => panic!("unknown library function {other}"),
        }
    }

    /// The time a case is verified at: `verify.at`, or the suite clock when the case has
    /// no verification step.
    fn at(&self, case: &Value) -> UnixTime {
        UnixTime::from_secs(case["verify"]["at"].as_u64().unwrap_or(self.now))
    }

    fn case(&self, id: &str) -> &Value {
        self.cases.iter().find(|c| c["id"] == id).unwrap()
    }
}

/// Verifies `compact` as the token type of the case's library function, returning the
/// verified claims re-serialized as JSON.
fn verify_case(
    suite: &Suite,
    case: &Value,
    compact: &str,
    now: UnixTime,
) -> Result<Value, token::TokenError> {
    let a = &case["input"]["args"];
    let t = UnverifiedToken::parse(compact)?;
    let iss = t.iss().unwrap().to_owned();
    let key = suite
        .issuer_key(&iss, t.kid())
        .map_err(|_| token::TokenError::new(t.token_type(), TokenErrorKind::MissingKid))?;
    let v = Validation::issuer(&iss);
    let v = match a["aud"].as_str() {
        Some(aud) => v.with_audience(aud),
        None => v,
    };
    Ok(match s(&case["input"]["library_function"]) {
        "aauth.create_resource_token" => {
            serde_json::to_value(t.verify::<ResourceClaims>(&key, &v, now)?.claims()).unwrap()
        }
        "aauth.create_auth_token" => {
            serde_json::to_value(t.verify::<AuthClaims>(&key, &v, now)?.claims()).unwrap()
        }
        _ => serde_json::to_value(t.verify::<AgentClaims>(&key, &v, now)?.claims()).unwrap(),
    })
}

#[test]
fn every_jwt_case_is_reproduced_byte_for_byte_and_verifies() {
    let suite = suite();
    assert_eq!(
        suite.cases.len(),
        6,
        "the reference suite has six jwt cases"
    );
    for case in &suite.cases {
        let id = s(&case["id"]);
        let expected = s(&case["expected"]["compact"]);
        let built = suite.build(case);
        assert_eq!(built, expected, "{id}: token differs from the reference");

        let t = UnverifiedToken::parse(expected).unwrap();
        let signing_input = s(&case["expected"]["signing_input"]);
        assert!(expected.starts_with(&format!("{signing_input}.")), "{id}");
        assert_eq!(
            t.alg().as_str(),
            s(&case["expected"]["header"]["alg"]),
            "{id}"
        );
        assert_eq!(t.kid(), case["expected"]["header"]["kid"].as_str(), "{id}");
        assert_eq!(t.typ(), case["expected"]["header"]["typ"].as_str(), "{id}");

        let claims = verify_case(&suite, case, expected, suite.at(case))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(claims, case["expected"]["payload"], "{id}: verified claims");
        if case["verify"]["library_verdict"] == true {
            assert_eq!(claims, case["verify"]["library_result"], "{id}");
        }
    }
}

/// `agent_jkt` in the reference resource tokens is the RFC 7638 thumbprint of the key the
/// named agent publishes (digest §2.6).
#[test]
fn agent_jkt_is_the_thumbprint_of_the_agents_published_key() {
    let suite = suite();
    let mut seen = 0;
    for case in &suite.cases {
        let a = &case["input"]["args"];
        if let Some(jkt) = a["agent_jkt"].as_str() {
            let agent_key = jwk(&suite.jwks[s(&a["agent"])]["keys"][0]);
            assert_eq!(agent_key.thumbprint().unwrap(), jkt, "{}", case["id"]);
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
}

// ---- negative cases, each derived from a reference token --------------------------------

fn parts(compact: &str) -> (String, String, String) {
    let mut it = compact.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

fn b64u(bytes: &[u8]) -> String {
    // Unpadded base64url, written out so the tests do not depend on the core's encoder.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn resource_case(suite: &Suite) -> &Value {
    suite.case("jwt-resource-token")
}

fn expect_err(suite: &Suite, case: &Value, compact: &str, now: UnixTime) -> token::TokenError {
    verify_case(suite, case, compact, now).expect_err("must be refused")
}

#[test]
fn alg_none_is_refused() {
    let suite = suite();
    let case = resource_case(&suite);
    let (_, p, _) = parts(s(&case["expected"]["compact"]));
    let h = b64u(br#"{"alg":"none","kid":"resource-key-1","typ":"resource+jwt"}"#);
    let e = expect_err(&suite, case, &format!("{h}.{p}."), suite.at(case));
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::UnsupportedAlg));
    assert_eq!(e.code(), ErrorCode::InvalidToken);
}

#[test]
fn hs256_is_refused() {
    let suite = suite();
    let case = resource_case(&suite);
    let (_, p, sig) = parts(s(&case["expected"]["compact"]));
    let h = b64u(br#"{"alg":"HS256","kid":"resource-key-1","typ":"resource+jwt"}"#);
    let e = expect_err(&suite, case, &format!("{h}.{p}.{sig}"), suite.at(case));
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::UnsupportedAlg));
}

#[test]
fn rs256_header_with_ed25519_key_is_refused() {
    let suite = suite();
    let case = resource_case(&suite);
    let (_, p, sig) = parts(s(&case["expected"]["compact"]));
    let h = b64u(br#"{"alg":"RS256","kid":"resource-key-1","typ":"resource+jwt"}"#);
    let e = expect_err(&suite, case, &format!("{h}.{p}.{sig}"), suite.at(case));
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::AlgorithmMismatch));
    assert_eq!(e.code(), ErrorCode::InvalidResourceToken);
}

#[test]
fn unknown_kid_finds_no_key() {
    let suite = suite();
    let compact = s(&resource_case(&suite)["expected"]["compact"]);
    let t = UnverifiedToken::parse(compact).unwrap();
    assert!(suite.issuer_key(t.iss().unwrap(), t.kid()).is_ok());
    assert_eq!(
        suite
            .issuer_key(t.iss().unwrap(), Some("resource-key-2"))
            .err(),
        Some(SelectError::UnknownKid)
    );
}

#[test]
fn expired_is_refused_with_both_times() {
    let suite = suite();
    for case in &suite.cases {
        let exp = case["input"]["args"]["exp"].as_u64().unwrap();
        let compact = s(&case["expected"]["compact"]);
        let now = UnixTime::from_secs(exp);
        let e = expect_err(&suite, case, compact, now);
        assert_eq!(
            e.kind(),
            TokenErrorKind::Expired {
                now,
                exp: UnixTime::from_secs(exp)
            },
            "{}",
            case["id"]
        );
        assert!(verify_case(&suite, case, compact, UnixTime::from_secs(exp - 1)).is_ok());
    }
}

#[test]
fn wrong_audience_is_refused() {
    let suite = suite();
    let case = suite.case("jwt-auth-token-autonomous");
    let compact = s(&case["expected"]["compact"]);
    let t = UnverifiedToken::parse(compact).unwrap();
    let key = suite.issuer_key(t.iss().unwrap(), t.kid()).unwrap();
    // Auth token for resource 8002 presented to resource 8005.
    let v = Validation::issuer("http://127.0.0.1:8003").with_audience("http://127.0.0.1:8005");
    let e = t
        .verify::<AuthClaims>(&key, &v, suite.at(case))
        .unwrap_err();
    assert_eq!(e.kind(), TokenErrorKind::AudienceMismatch);
    assert_eq!(e.code(), ErrorCode::InvalidAuthToken);
}

#[test]
fn untrusted_issuer_is_refused() {
    let suite = suite();
    let case = suite.case("jwt-auth-token-exchanged");
    let t = UnverifiedToken::parse(s(&case["expected"]["compact"])).unwrap();
    let key = suite.issuer_key(t.iss().unwrap(), t.kid()).unwrap();
    let trusted = ["http://127.0.0.1:8003"];
    let v = Validation::issuers(&trusted).with_audience("http://127.0.0.1:8005");
    let e = t
        .verify::<AuthClaims>(&key, &v, suite.at(case))
        .unwrap_err();
    assert_eq!(e.kind(), TokenErrorKind::IssuerNotAccepted);
}

#[test]
fn wrong_typ_is_refused() {
    let suite = suite();
    // A resource token presented where an auth token is expected (same signer, valid).
    let case = resource_case(&suite);
    let t = UnverifiedToken::parse(s(&case["expected"]["compact"])).unwrap();
    let key = suite.issuer_key(t.iss().unwrap(), t.kid()).unwrap();
    let e = t
        .verify::<AuthClaims>(&key, &Validation::any_issuer(), suite.at(case))
        .unwrap_err();
    assert_eq!(e.kind(), TokenErrorKind::WrongType);
    assert_eq!(e.code(), ErrorCode::InvalidAuthToken);
}

#[test]
fn tampered_payload_is_refused() {
    let suite = suite();
    let case = resource_case(&suite);
    let (h, _, sig) = parts(s(&case["expected"]["compact"]));
    let payload = case["expected"]["payload"]
        .to_string()
        .replace("data.read data.write", "admin");
    let e = expect_err(
        &suite,
        case,
        &format!("{h}.{}.{sig}", b64u(payload.as_bytes())),
        suite.at(case),
    );
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::BadSignature));
}

#[test]
fn token_signed_by_another_key_is_refused() {
    let suite = suite();
    let case = suite.case("jwt-agent-token");
    let c = AgentClaims::new(
        "http://127.0.0.1:8001",
        "delegate-1",
        jwk(&case["input"]["args"]["cnf_jwk"]),
        UnixTime::from_secs(case["input"]["args"]["exp"].as_u64().unwrap()),
    );
    // The attacker key carries the agent's kid (`key-1`).
    let forged = token::sign(&c, Some("key-1"), &suite.signer("attacker")).unwrap();
    let e = expect_err(&suite, case, &forged, suite.at(case));
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::BadSignature));
    assert_eq!(e.code(), ErrorCode::InvalidAgentToken);
}

#[test]
fn padding_in_a_segment_is_refused() {
    let suite = suite();
    let case = resource_case(&suite);
    let (h, p, sig) = parts(s(&case["expected"]["compact"]));
    // The signature is 64 bytes: 86 characters, so standard base64 would pad it with "==".
    for bad in [
        format!("{h}.{p}.{sig}=="),
        format!("{h}=.{p}.{sig}"),
        format!("{h}.{p}=.{sig}"),
    ] {
        let e = UnverifiedToken::parse(&bad).unwrap_err();
        assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::Base64), "{bad}");
    }
}

#[test]
fn four_segments_are_refused() {
    let suite = suite();
    let compact = s(&resource_case(&suite)["expected"]["compact"]);
    let e = UnverifiedToken::parse(&format!("{compact}.AAAA")).unwrap_err();
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::SegmentCount));
    let e = UnverifiedToken::parse(compact.rsplit_once('.').unwrap().0).unwrap_err();
    assert_eq!(e.kind(), TokenErrorKind::Jws(JwsError::SegmentCount));
}
