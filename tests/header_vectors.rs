//! Header and metadata vectors of the Python reference `aauth` 0.1.0
//! (`shared/interop/python-ref/vectors.json`: cases `hdr-*`, `metadata-documents`, and the
//! `Signature-Key` values of the `sig-*` cases), plus one negative test per refused form,
//! named after the checklist item of digest §5.1 where one applies.

use aauth_core::agent_auth::AgentAuth;
use aauth_core::metadata::{AgentMetadata, IssuerMetadata, ResourceMetadata};
use aauth_core::signature_key::{JwksRef, KeyScheme, SignatureKey, SignatureKeyError, Syntax};
use aauth_core::{ErrorCode, Jwks, ProtocolError};
use aauth_tests::{reference_case, reference_suite};
use serde_json::Value;

fn cases() -> Vec<Value> {
    reference_suite()["cases"]
        .as_array()
        .expect("cases")
        .clone()
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

/// `hdr-agent-auth`: every `built` string is reproduced and every `parsed` expectation met.
#[test]
fn hdr_agent_auth_built_and_parsed() {
    let c = reference_case("hdr-agent-auth");
    let built = c["expected"]["built"].as_object().unwrap();
    let parsed = &c["expected"]["parsed"];
    assert_eq!(built.len(), 4);
    for (name, value) in built {
        let value = value.as_str().unwrap();
        let want = &parsed[name];
        let got = AgentAuth::parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(want["httpsig"], true, "{name}");
        assert_eq!(got.identity, want["identity"].as_bool(), "{name}");
        assert_eq!(
            got.auth_token,
            want["auth_token"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(
            got.resource_token,
            opt_str(&want["resource_token"]),
            "{name}"
        );
        assert_eq!(got.auth_server, opt_str(&want["auth_server"]), "{name}");
        assert_eq!(
            got.user_interaction,
            opt_str(&want["user_interaction"]),
            "{name}"
        );
        let algs: Vec<String> = want["algs"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(got.algs, algs, "{name}");
        // Built from the parsed value, byte for byte.
        assert_eq!(got.to_header().unwrap(), value, "{name}");
    }

    let demo = c["expected"]["demo_resource_401"].as_str().unwrap();
    let got = AgentAuth::parse(demo).unwrap();
    let want = &c["expected"]["demo_resource_401_parsed"];
    assert!(got.auth_token);
    assert_eq!(got.identity, None);
    assert_eq!(got.resource_token, opt_str(&want["resource_token"]));
    assert_eq!(got.auth_server, opt_str(&want["auth_server"]));
    let built = AgentAuth::auth_token(
        want["resource_token"].as_str().unwrap(),
        want["auth_server"].as_str().unwrap(),
    );
    assert_eq!(built.to_header().unwrap(), demo);
    assert_eq!(
        AgentAuth::pseudonymous().to_header().unwrap(),
        built_str(&c, "agent_auth_pseudonymous")
    );
    assert_eq!(
        AgentAuth::identity().to_header().unwrap(),
        built_str(&c, "agent_auth_identity")
    );
}

fn built_str(c: &Value, name: &str) -> String {
    c["expected"]["built"][name].as_str().unwrap().to_owned()
}

/// `hdr-signature-key-parse`: label, scheme and parameters, and the bytes built back.
#[test]
fn hdr_signature_key_parse() {
    let c = reference_case("hdr-signature-key-parse");
    let all = c["expected"]["signature_key"].as_object().unwrap();
    assert_eq!(all.len(), 3);
    for (name, v) in all {
        let value = v["value"].as_str().unwrap();
        let want = &v["parsed"];
        let sk = SignatureKey::parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sk.label, want["label"].as_str().unwrap());
        assert_eq!(sk.raw, value);
        assert_eq!(sk.syntax, Syntax::Legacy);
        assert_eq!(sk.scheme.name(), want["scheme"].as_str().unwrap());
        let p = &want["params"];
        match &sk.scheme {
            KeyScheme::Jwks(JwksRef::Id {
                id,
                kid,
                well_known,
            }) => {
                assert_eq!(p.as_object().unwrap().len(), 3);
                assert_eq!(id, p["id"].as_str().unwrap());
                assert_eq!(kid, p["kid"].as_str().unwrap());
                assert_eq!(well_known.as_deref(), p["well-known"].as_str());
            }
            KeyScheme::Jwt { jwt } => assert_eq!(jwt, p["jwt"].as_str().unwrap()),
            KeyScheme::Hwk(jwk) => {
                assert_eq!(p.as_object().unwrap().len(), 3);
                assert_eq!(jwk.kty, p["kty"].as_str().unwrap());
                assert_eq!(jwk.crv.as_deref(), p["crv"].as_str());
                assert_eq!(jwk.x.as_deref(), p["x"].as_str());
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert_eq!(sk.scheme.to_header(sk.label).unwrap(), value, "{name}");
    }
}

/// The `Signature-Key` of every `sig-*` case parses and is rebuilt byte for byte.
#[test]
fn sig_cases_signature_key_round_trip() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["kind"] == "http-signature") {
        let value = c["expected"]["signature_key"]
            .as_str()
            .expect("signature_key");
        let sk = SignatureKey::parse(value).unwrap_or_else(|e| panic!("{}: {e}", c["id"]));
        assert_eq!(sk.label, "sig1");
        assert_eq!(sk.scheme.to_header("sig1").unwrap(), value, "{}", c["id"]);
        n += 1;
    }
    assert_eq!(n, 7);
}

/// `metadata-documents`: the three documents as JSON values and as compact strings in the
/// reference's member order; the agent JWKS and its thumbprint.
#[test]
fn metadata_documents() {
    let c = reference_case("metadata-documents");
    let e = &c["expected"];
    let ids = &reference_suite()["identifiers"];
    let id = |k: &str| ids[k].as_str().unwrap().to_owned();

    let agent = AgentMetadata::for_id(&id("agent"));
    let issuer = IssuerMetadata::for_id(&id("auth_server"));
    let mut resource = ResourceMetadata::for_id(&id("resource"));
    resource.supported_scopes = Some(vec!["data.read".into(), "data.write".into()]);

    for (key, doc) in [
        (
            "/.well-known/aauth-agent",
            serde_json::to_string(&agent).unwrap(),
        ),
        (
            "/.well-known/aauth-issuer",
            serde_json::to_string(&issuer).unwrap(),
        ),
        (
            "/.well-known/aauth-resource",
            serde_json::to_string(&resource).unwrap(),
        ),
    ] {
        let want = &e[key];
        // `Value` does not keep member order, so the order is checked on the file text.
        assert_eq!(serde_json::from_str::<Value>(&doc).unwrap(), *want, "{key}");
        assert_eq!(doc, compact_in_file_order(key), "{key}");
    }

    assert_eq!(
        AgentMetadata::from_json(
            serde_json::to_string(&e["/.well-known/aauth-agent"])
                .unwrap()
                .as_bytes()
        )
        .unwrap(),
        agent
    );
    assert_eq!(
        IssuerMetadata::from_json(
            serde_json::to_string(&e["/.well-known/aauth-issuer"])
                .unwrap()
                .as_bytes()
        )
        .unwrap(),
        issuer
    );
    assert_eq!(
        ResourceMetadata::from_json(
            serde_json::to_string(&e["/.well-known/aauth-resource"])
                .unwrap()
                .as_bytes()
        )
        .unwrap(),
        resource
    );

    let jwks = Jwks::from_json(
        serde_json::to_string(&e["/jwks.json (agent)"])
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let jwk = jwks.find(Some("key-1")).unwrap();
    assert_eq!(
        jwk.thumbprint().unwrap(),
        e["agent_jkt (RFC 7638 of agent JWK)"].as_str().unwrap()
    );
}

/// The compact form of one metadata document with members in the order they appear in
/// `vectors.json` (the reference's order), read from the raw file text.
fn compact_in_file_order(key: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/interop/python-ref/vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let needle = format!("{}:", serde_json::to_string(key).unwrap());
    let start = text.find(&needle).expect("document key") + needle.len();
    let rest = text[start..].trim_start();
    // The document is a flat object of strings and string arrays: take it up to the
    // matching brace and drop the insignificant whitespace outside strings.
    let mut out = String::new();
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for ch in rest.chars() {
        if in_str {
            out.push(ch);
            match (esc, ch) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            c if c.is_whitespace() => continue,
            _ => {}
        }
        out.push(ch);
        if depth == 0 {
            break;
        }
    }
    out
}

// ---- negative tests (digest §5.1) --------------------------------------------------------

fn refused(v: &str) -> SignatureKeyError {
    SignatureKey::parse(v).expect_err(v)
}

const X: &str = "Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU";

#[test]
fn l01_empty_signature_key_rejected() {
    assert_eq!(refused(""), SignatureKeyError::MemberCount);
    assert_eq!(refused("   "), SignatureKeyError::MemberCount);
}

#[test]
fn l02_two_members_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwt jwt="a"), sig2=(scheme=jwt jwt="b")"#),
        SignatureKeyError::MemberCount
    );
    assert_eq!(
        refused(r#"sig1=jwt;jwt="a", sig2=jwt;jwt="b""#),
        SignatureKeyError::MemberCount
    );
}

#[test]
fn l02_repeated_label_rejected() {
    // Two field lines with the same label, joined by the host: still two members.
    assert_eq!(
        refused(r#"sig1=jwt;jwt="a", sig1=jwt;jwt="b""#),
        SignatureKeyError::MemberCount
    );
}

#[test]
fn l03_label_mismatch_rejected() {
    let sk = SignatureKey::parse(r#"sig1=(scheme=jwt jwt="a")"#).unwrap();
    assert_eq!(sk.check_label("sig"), Err(SignatureKeyError::LabelMismatch));
    assert!(sk.check_label("sig1").is_ok());
}

#[test]
fn l12_jwks_with_both_jwks_and_id_rejected() {
    assert_eq!(
        refused(
            r#"sig1=(scheme=jwks jwks="https://a.example/jwks.json" id="https://a.example" kid="k")"#
        ),
        SignatureKeyError::JwksMode
    );
}

#[test]
fn l12_jwks_with_neither_jwks_nor_id_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwks kid="k")"#),
        SignatureKeyError::JwksMode
    );
}

#[test]
fn l12_mode1_with_well_known_rejected() {
    assert_eq!(
        refused(
            r#"sig1=(scheme=jwks jwks="https://a.example/jwks.json" kid="k" well-known="aauth-agent")"#
        ),
        SignatureKeyError::ForbiddenParameter("well-known")
    );
}

#[test]
fn l12_mode1_with_id_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwks jwks="https://a.example/j" kid="k" id="https://a.example")"#),
        SignatureKeyError::JwksMode
    );
}

#[test]
fn l12_jwks_without_kid_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwks id="https://a.example" well-known="aauth-agent")"#),
        SignatureKeyError::MissingParameter("kid")
    );
}

#[test]
fn l13_well_known_not_a_segment_rejected() {
    for wk in ["", "a/b", "..", "../../admin", "x?y=1", "x#f", "%2F", "."] {
        let v = format!(r#"sig1=(scheme=jwks id="https://a.example" kid="k" well-known="{wk}")"#);
        assert_eq!(refused(&v), SignatureKeyError::InvalidWellKnown, "{wk}");
        let v = format!(r#"sig1=jwks_uri;id="https://a.example";dwk="{wk}";kid="k""#);
        assert_eq!(refused(&v), SignatureKeyError::InvalidWellKnown, "{wk}");
    }
}

#[test]
fn l16_hwk_with_alg_rejected() {
    assert_eq!(
        refused(&format!(
            r#"sig1=(scheme=hwk kty="OKP" crv="Ed25519" x="{X}" alg="EdDSA")"#
        )),
        SignatureKeyError::ForbiddenParameter("alg")
    );
}

#[test]
fn hwk_missing_members_rejected() {
    for (v, missing) in [
        (r#"sig1=(scheme=hwk crv="Ed25519" x="x")"#, "kty"),
        (r#"sig1=(scheme=hwk kty="OKP" x="x")"#, "crv"),
        (r#"sig1=(scheme=hwk kty="OKP" crv="Ed25519")"#, "x"),
        (r#"sig1=(scheme=hwk kty="EC" crv="P-256" x="x")"#, "y"),
        (r#"sig1=(scheme=hwk kty="RSA" e="AQAB")"#, "n"),
        (r#"sig1=(scheme=hwk kty="RSA" n="n")"#, "e"),
    ] {
        assert_eq!(
            refused(v),
            SignatureKeyError::MissingParameter(missing),
            "{v}"
        );
    }
    assert_eq!(
        refused(r#"sig1=(scheme=hwk kty="oct" k="x")"#),
        SignatureKeyError::UnsupportedKeyType
    );
}

#[test]
fn jwt_missing_jwt_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwt kid="k")"#),
        SignatureKeyError::MissingParameter("jwt")
    );
    assert_eq!(
        refused(r#"sig1=jwt;cache"#),
        SignatureKeyError::MissingParameter("jwt")
    );
}

#[test]
fn x509_missing_members_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=x509 x5t="t")"#),
        SignatureKeyError::MissingParameter("x5u")
    );
    assert_eq!(
        refused(r#"sig1=(scheme=x509 x5u="u")"#),
        SignatureKeyError::MissingParameter("x5t")
    );
}

#[test]
fn duplicate_parameter_rejected() {
    assert_eq!(
        refused(r#"sig1=(scheme=jwks id="https://a.example" kid="k" kid="j")"#),
        SignatureKeyError::DuplicateParameter
    );
    assert_eq!(
        refused(r#"sig1=jwt;jwt="a";jwt="b""#),
        SignatureKeyError::DuplicateParameter
    );
}

#[test]
fn unknown_scheme_is_unsupported_scheme() {
    for v in [
        r#"sig1=(scheme=magic k="v")"#,
        r#"sig1=self-jwt;jwt="a""#,
        r#"sig1=cached;cid="c""#,
    ] {
        let e = refused(v);
        assert_eq!(e, SignatureKeyError::UnsupportedScheme, "{v}");
        assert_eq!(e.code(), ErrorCode::UnsupportedScheme);
    }
    assert_eq!(
        refused(r#"sig1=(scheme=jwt kid="k")"#).code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn malformed_signature_key_rejected() {
    for v in [
        "sig1",
        "sig1=",
        "sig1=(",
        "sig1=()",
        "sig1=(scheme=jwt jwt=\"a\"",
        "sig1=(scheme=jwt\tjwt=\"a\")",
        "sig1=(scheme=jwt jwt=\"a\") trailing",
        "sig1=(scheme=jwt jwt=\"a\\x\")",
        "SIG=(scheme=jwt jwt=\"a\")",
        "sig1=(\"scheme\" \"jwt\")",
        "sig1=\"jwt\";jwt=\"a\"",
        "sig1=jwt;jwt=\"a\",",
    ] {
        assert!(SignatureKey::parse(v).is_err(), "{v}");
    }
}

#[test]
fn agent_auth_without_httpsig_rejected() {
    assert!(AgentAuth::parse("identity=?1").is_err());
    assert!(AgentAuth::parse("Bearer realm=\"x\"").is_err());
    assert!(AgentAuth::parse("httpsig; auth_server=?1").is_err());
    assert!(AgentAuth::parse("httpsig;").is_err());
}
