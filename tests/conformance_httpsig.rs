//! Negative tests for the checklist items of digest §5.1 that the signature layer decides,
//! each named after its item. Each test starts from a request that verifies, changes one
//! thing, and asserts the specific refusal.

use aauth_core::httpsig::{
    BaseMode, SignOptions, SignatureError, SignedRequest, VerifyPolicy, sign_request,
};
use aauth_core::{PublicKey, SigningKey, UnixTime};
use aauth_tests::OwnedRequest;

const NOW: u64 = 1_768_785_919;
const SK: &str =
    r#"sig1=(scheme=jwks id="https://agent.example" kid="key-1" well-known="aauth-agent")"#;

fn key() -> SigningKey {
    SigningKey::from_seed(&[42; 32])
}

fn signed(req: OwnedRequest) -> OwnedRequest {
    signed_with(req, &SignOptions::new(UnixTime::from_secs(NOW)))
}

fn signed_with(req: OwnedRequest, opts: &SignOptions<'_>) -> OwnedRequest {
    let h = req
        .with_parts(|p| sign_request(p, SK, &key(), opts))
        .unwrap();
    let mut out = req;
    for (n, v) in h.iter() {
        out = out.set(n, v);
    }
    out
}

fn check_at(req: &OwnedRequest, now: u64) -> Result<(), SignatureError> {
    let policy = VerifyPolicy::default();
    req.with_parts(|p| {
        SignedRequest::parse(p, &policy, UnixTime::from_secs(now))?.verify(
            p,
            &key().public_key(),
            &policy,
        )
    })
}

fn check(req: &OwnedRequest) -> Result<(), SignatureError> {
    check_at(req, NOW + 1)
}

fn get() -> OwnedRequest {
    OwnedRequest::new("GET", "https://resource.example/data")
}

fn post() -> OwnedRequest {
    OwnedRequest::new("POST", "https://auth.example/agent/token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"request_type=auth&scope=data.read")
}

/// Re-signs `req` (already carrying headers) with a hand-written `Signature-Input`.
fn resign_with_input(req: OwnedRequest, input_value: &str) -> OwnedRequest {
    use aauth_core::Signer as _;
    use aauth_core::httpsig::{SignatureEncoding, params};
    let (label, p) = params::parse_signature_input(input_value).unwrap();
    let base = req
        .with_parts(|r| aauth_core::httpsig::signature_base(r, &p))
        .unwrap();
    let sig = params::serialize_signature(label, &key().sign(&base), SignatureEncoding::Base64Url);
    req.set("Signature-Input", input_value)
        .set("Signature", &sig)
}

#[test]
fn baseline_requests_verify() {
    check(&signed(get())).unwrap();
    check(&signed(post())).unwrap();
    check(&signed(OwnedRequest::new("GET", "https://r.example/a?b=c"))).unwrap();
}

#[test]
fn l01_signature_key_missing_or_not_covered_rejected() {
    let req = signed(get());
    assert_eq!(
        check(&req.clone().without("Signature-Key")),
        Err(SignatureError::MissingHeader("Signature-Key"))
    );
    let not_covered = resign_with_input(
        req,
        r#"sig1=("@method" "@authority" "@path");created=1768785919"#,
    );
    assert_eq!(
        check(&not_covered),
        Err(SignatureError::MissingComponent("signature-key"))
    );
}

#[test]
fn l03_labels_must_be_identical() {
    let req = signed(get());
    let sig = String::from_utf8(
        req.headers
            .iter()
            .find(|h| h.0 == "Signature")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let relabelled = req
        .clone()
        .set("Signature", &sig.replacen("sig1", "sig2", 1));
    assert_eq!(check(&relabelled), Err(SignatureError::LabelMismatch));
    let key_relabelled = req
        .clone()
        .set("Signature-Key", &SK.replacen("sig1", "sig2", 1));
    assert_eq!(check(&key_relabelled), Err(SignatureError::LabelMismatch));
    let two = req.header("Signature", &sig);
    assert_eq!(check(&two), Err(SignatureError::MultipleSignatures));
}

#[test]
fn l04_method_authority_path_required() {
    for (input, missing) in [
        (
            r#"sig1=("@authority" "@path" "signature-key");created=1768785919"#,
            "@method",
        ),
        (
            r#"sig1=("@method" "@path" "signature-key");created=1768785919"#,
            "@authority",
        ),
        (
            r#"sig1=("@method" "@authority" "signature-key");created=1768785919"#,
            "@path",
        ),
    ] {
        let req = resign_with_input(signed(get()), input);
        assert_eq!(
            check(&req),
            Err(SignatureError::MissingComponent(missing)),
            "{missing}"
        );
    }
}

#[test]
fn l05_query_covered_iff_present() {
    let with_query = OwnedRequest::new("GET", "https://resource.example/data?x=1");
    let uncovered = resign_with_input(
        signed(with_query),
        r#"sig1=("@method" "@authority" "@path" "signature-key");created=1768785919"#,
    );
    assert_eq!(
        check(&uncovered),
        Err(SignatureError::MissingComponent("@query"))
    );
    let spurious = resign_with_input(
        signed(get()),
        r#"sig1=("@method" "@authority" "@path" "@query" "signature-key");created=1768785919"#,
    );
    assert_eq!(
        check(&spurious),
        Err(SignatureError::ForbiddenComponent("@query"))
    );
    // The query is signed: changing it breaks the signature.
    let mut moved = signed(OwnedRequest::new(
        "GET",
        "https://resource.example/data?x=1",
    ));
    moved.target = "/data?x=2".into();
    assert_eq!(check(&moved), Err(SignatureError::BadSignature));
}

#[test]
fn l06_body_components_iff_body() {
    let uncovered = resign_with_input(
        signed(post()),
        r#"sig1=("@method" "@authority" "@path" "content-type" "signature-key");created=1768785919"#,
    );
    assert_eq!(
        check(&uncovered),
        Err(SignatureError::MissingComponent("content-digest"))
    );
    let spurious = resign_with_input(
        signed(get().header("Content-Type", "text/plain")),
        r#"sig1=("@method" "@authority" "@path" "content-type" "signature-key");created=1768785919"#,
    );
    assert_eq!(
        check(&spurious),
        Err(SignatureError::ForbiddenComponent("content-type"))
    );
    // A body without Content-Type cannot be signed under the profile.
    let no_ct = OwnedRequest::new("POST", "https://a.example/x").body(b"x");
    assert_eq!(
        no_ct.with_parts(|p| sign_request(
            p,
            SK,
            &key(),
            &SignOptions::new(UnixTime::from_secs(NOW))
        )),
        Err(SignatureError::MissingContentType)
    );
}

#[test]
fn l07_content_digest_recomputed_over_body() {
    // The reference accepts this (reference notes §4: neg-tampered-body-digest-header-unchanged).
    let tampered = signed(post()).body(b"request_type=auth&scope=admin");
    assert!(matches!(
        check(&tampered),
        Err(SignatureError::ContentDigest(_))
    ));
}

#[test]
fn l08_nonce_header_must_be_covered() {
    let req = signed(post().header("Nonce", "Y3VyaW91c2x5Y3VyaW91cw"));
    check(&req).unwrap();
    let uncovered = resign_with_input(
        req,
        r#"sig1=("@method" "@authority" "@path" "content-type" "content-digest" "signature-key");created=1768785919"#,
    );
    assert_eq!(
        check(&uncovered),
        Err(SignatureError::MissingComponent("nonce"))
    );
}

#[test]
fn l09_created_required_and_within_window() {
    let req = signed(get());
    assert!(matches!(
        check_at(&req, NOW + 61),
        Err(SignatureError::CreatedTooOld { .. })
    ));
    check_at(&req, NOW + 60).unwrap();
    assert!(matches!(
        check_at(&req, NOW - 61),
        Err(SignatureError::CreatedInFuture { .. })
    ));
    let no_created = resign_with_input(
        req,
        r#"sig1=("@method" "@authority" "@path" "signature-key")"#,
    );
    assert_eq!(check(&no_created), Err(SignatureError::MissingCreated));
}

#[test]
fn expires_honoured() {
    let opts =
        SignOptions::new(UnixTime::from_secs(NOW)).with_expires(UnixTime::from_secs(NOW + 10));
    let req = signed_with(get(), &opts);
    check_at(&req, NOW + 10).unwrap();
    assert!(matches!(
        check_at(&req, NOW + 11),
        Err(SignatureError::Expired { .. })
    ));
}

#[test]
fn l10_authority_is_the_configured_canonical_one() {
    // Signed for resource.example; received by a verifier whose canonical authority is
    // other.example. A forged Host header changes nothing: the core never reads it.
    let mut req = signed(get()).header("Host", "resource.example");
    req.authority = "other.example".into();
    assert_eq!(check(&req), Err(SignatureError::BadSignature));
}

#[test]
fn standard_base64_signatures_accepted() {
    let opts = SignOptions::new(UnixTime::from_secs(NOW))
        .with_encoding(aauth_core::httpsig::SignatureEncoding::Standard);
    check(&signed_with(get(), &opts)).unwrap();
}

/// Digest §2.12 TV-1: the January 2026 demo log, verified only in the explicit legacy mode
/// (checklist L-32) and refused under RFC 9421.
#[test]
fn l32_legacy_demo_base_only_in_legacy_mode() {
    let x: [u8; 32] = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode("v4w1nfeU2IV9Mi7N_pLDbBvNMerWhlMwagF1Dw_7wXQ")
            .unwrap()
            .try_into()
            .unwrap()
    };
    let key = PublicKey::ed25519(&x).unwrap();
    let req = OwnedRequest::new("GET", "http://127.0.0.1:8002/data-auth")
        .header(
            "Signature-Key",
            r#"sig1=(scheme=jwks id="http://127.0.0.1:8001" kid="key-1" well-known="aauth-agent")"#,
        )
        .header(
            "Signature-Input",
            r#"sig1=("@method" "@authority" "@path" "signature-key");created=1768785919"#,
        )
        .header(
            "Signature",
            "sig1=:ZMGGi5N61KL-AWkTbLZDPWRA3AUefyhCtOmQ-Wp7CF6IeIch6RpzAfatdOj3VoSGL-BAouXpMCViML8gvFH1Aw:",
        );
    let now = UnixTime::from_secs(1_768_785_920);
    req.with_parts(|p| {
        let mut policy = VerifyPolicy::default();
        let signed = SignedRequest::parse(p, &policy, now).unwrap();
        assert_eq!(
            signed.verify(p, &key, &policy),
            Err(SignatureError::BadSignature)
        );
        policy.base_mode = BaseMode::LegacyDemoJan2026;
        signed.verify(p, &key, &policy).unwrap();
    });
}
