//! Behaviour of the [`Store`] contract, run against [`SqliteStore`] on a temp-dir file and
//! against [`PgStore`] on a throwaway PostgreSQL cluster (one database per check).
//!
//! The checks are generic over `S: Store`, so both backends pass the same assertions.

use std::path::Path;
use std::sync::Arc;

use aauth_issuer::password::hash_password;
use aauth_issuer::store::{
    AuthorizationRequest, CODE_TTL, NewSigningKey, PgStore, REQUEST_TOKEN_TTL, RefreshGrant,
    SqliteStore, Store, StoreError, UserId,
};
use tempfile::TempDir;

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

const T0: u64 = 1_768_785_919;
const AGENT: &str = "https://agent.example";
const RESOURCE: &str = "https://resource.example";
const JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"v4w1nfeU2IV9Mi7N_pLDbBvNMerWhlMwagF1Dw_7wXQ","kid":"key-1"}"#;

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("issuer.db"))
        .await
        .unwrap();
    (dir, store)
}

fn request(state: Option<&str>) -> AuthorizationRequest {
    AuthorizationRequest {
        agent_id: AGENT.into(),
        agent_delegate: Some("delegate-1".into()),
        agent_jwk: JWK.into(),
        agent_jkt: "jkt-abc".into(),
        resource_id: RESOURCE.into(),
        scope: "data.read data.write".into(),
        redirect_uri: "https://agent.example/callback".into(),
        state: state.map(Into::into),
    }
}

fn grant(user: Option<UserId>) -> RefreshGrant {
    RefreshGrant {
        agent_id: AGENT.into(),
        agent_delegate: None,
        user,
        resource_id: RESOURCE.into(),
        scope: "data.read".into(),
        agent_jwk: JWK.into(),
    }
}

fn key<'a>(kid: &'a str, seed: &'a [u8]) -> NewSigningKey<'a> {
    NewSigningKey {
        kid,
        alg: "EdDSA",
        private_seed: seed,
        public_jwk: r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#,
    }
}

async fn user<S: Store>(store: &S, name: &str) -> UserId {
    store
        .create_user(name, &hash_password("pw").unwrap(), T0)
        .await
        .unwrap()
        .id
}

// ---- users -------------------------------------------------------------------------------

async fn check_users<S: Store>(s: &S) {
    let phc = hash_password("testpass").unwrap();
    let u = s.create_user("testuser", &phc, T0).await.unwrap();
    assert_eq!(u.name, "testuser");
    assert_eq!(u.created_at, T0);
    assert_eq!(s.user_by_name("testuser").await.unwrap().as_ref(), Some(&u));
    assert_eq!(s.user_by_id(u.id).await.unwrap().as_ref(), Some(&u));
    assert_eq!(s.user_by_name("nobody").await.unwrap(), None);
    assert_eq!(s.user_by_id(UserId(9999)).await.unwrap(), None);
    assert!(matches!(
        s.create_user("testuser", &phc, T0).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.create_user("", &phc, T0).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        s.create_user("plain", "testpass", T0).await,
        Err(StoreError::InvalidInput(_))
    ));
    let v = s.create_user("second", &phc, T0).await.unwrap();
    assert_ne!(u.id, v.id);
    assert!(!format!("{u:?}").contains(&phc), "Debug elides the hash");
}

#[tokio::test]
async fn users() {
    let (_d, s) = fresh().await;
    check_users(&s).await;
}

#[tokio::test]
async fn verify_password_true_false_unknown() {
    let (_d, s) = fresh().await;
    let u = s
        .create_user("testuser", &hash_password("testpass").unwrap(), T0)
        .await
        .unwrap();
    assert_eq!(
        s.verify_password("testuser", "testpass").await.unwrap(),
        Some(u)
    );
    assert_eq!(s.verify_password("testuser", "wrong").await.unwrap(), None);
    assert_eq!(s.verify_password("testuser", "").await.unwrap(), None);
    assert_eq!(s.verify_password("ghost", "testpass").await.unwrap(), None);
}

// ---- pending requests and codes ------------------------------------------------------------

async fn check_pending_lifecycle<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    let p = s
        .create_pending("req-1", &request(Some("xyz")), T0)
        .await
        .unwrap();
    assert_eq!(p.expires_at, T0 + REQUEST_TOKEN_TTL);
    assert_eq!(p.request, request(Some("xyz")));
    assert_eq!(s.pending("req-1", T0).await.unwrap(), Some(p.clone()));
    assert_eq!(
        s.pending("req-1", T0 + REQUEST_TOKEN_TTL - 1)
            .await
            .unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        s.pending("req-1", T0 + REQUEST_TOKEN_TTL).await.unwrap(),
        None,
        "10 min"
    );
    assert_eq!(s.pending("nope", T0).await.unwrap(), None);
    assert!(matches!(
        s.create_pending("req-1", &request(None), T0).await,
        Err(StoreError::Conflict)
    ));
    let mut bad = request(None);
    bad.agent_jwk = "not json".into();
    assert!(matches!(
        s.create_pending("req-x", &bad, T0).await,
        Err(StoreError::InvalidInput(_))
    ));

    // Approve once: the code carries everything the token endpoint must check.
    let now = T0 + 30;
    let code = s
        .approve_pending("req-1", alice, "code-1", now)
        .await
        .unwrap();
    assert_eq!(code.user, alice);
    assert_eq!(code.request, p.request);
    assert_eq!(code.expires_at, now + CODE_TTL);
    assert_eq!(
        s.pending("req-1", now).await.unwrap(),
        None,
        "decided requests are gone"
    );
    assert!(matches!(
        s.approve_pending("req-1", alice, "code-2", now).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.deny_pending("req-1", now).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.approve_pending("unknown", alice, "code-3", now).await,
        Err(StoreError::NotFound)
    ));

    // Redeem once.
    let redeemed = s.redeem_code("code-1", now + CODE_TTL - 1).await.unwrap();
    assert_eq!(redeemed, code);
    assert!(matches!(
        s.redeem_code("code-1", now + 1).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.redeem_code("code-zzz", now).await,
        Err(StoreError::NotFound)
    ));

    // Deny.
    s.create_pending("req-2", &request(Some("st")), T0)
        .await
        .unwrap();
    let denied = s.deny_pending("req-2", T0 + 1).await.unwrap();
    assert_eq!(denied.request.state.as_deref(), Some("st"));
    assert_eq!(denied.expires_at, T0 + REQUEST_TOKEN_TTL);
    assert!(matches!(
        s.approve_pending("req-2", alice, "code-4", T0 + 2).await,
        Err(StoreError::Conflict)
    ));

    // A code may not reuse another code's value, and the failed approval leaves the request
    // undecided (the transaction rolled back).
    s.create_pending("req-3", &request(None), T0).await.unwrap();
    assert!(matches!(
        s.approve_pending("req-3", alice, "code-1", T0 + 3).await,
        Err(StoreError::Conflict)
    ));
    assert!(s.pending("req-3", T0 + 3).await.unwrap().is_some());
    // An unknown user cannot approve.
    assert!(matches!(
        s.approve_pending("req-3", UserId(424_242), "code-5", T0 + 3)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(s.pending("req-3", T0 + 3).await.unwrap().is_some());
}

#[tokio::test]
async fn pending_and_code_lifecycle() {
    let (_d, s) = fresh().await;
    check_pending_lifecycle(&s).await;
}

#[tokio::test]
async fn request_token_expires_after_ten_minutes() {
    let (_d, s) = fresh().await;
    check_request_token_expiry(&s).await;
}

async fn check_request_token_expiry<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    s.create_pending("req", &request(None), T0).await.unwrap();
    let late = T0 + REQUEST_TOKEN_TTL;
    match s.approve_pending("req", alice, "code", late).await {
        Err(StoreError::Expired { now, expires_at }) => {
            assert_eq!((now, expires_at), (late, T0 + 600));
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(matches!(
        s.deny_pending("req", late).await,
        Err(StoreError::Expired { .. })
    ));
    // One second earlier it still works.
    s.approve_pending("req", alice, "code", late - 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn code_expires_after_sixty_seconds() {
    let (_d, s) = fresh().await;
    check_code_expiry(&s).await;
}

async fn check_code_expiry<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    s.create_pending("req", &request(None), T0).await.unwrap();
    s.approve_pending("req", alice, "code", T0).await.unwrap();
    match s.redeem_code("code", T0 + 60).await {
        Err(StoreError::Expired { now, expires_at }) => {
            assert_eq!((now, expires_at), (T0 + 60, T0 + 60))
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    // Expiry does not consume it; but it is still dead for any later `now`.
    assert!(matches!(
        s.redeem_code("code", T0 + 61).await,
        Err(StoreError::Expired { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_single_use_under_32_concurrent_redemptions() {
    let (_d, s) = fresh().await;
    // A second store on the same file: two server processes racing.
    let other = SqliteStore::open(_d.path().join("issuer.db"))
        .await
        .unwrap();
    check_single_use_redemption([s, other]).await;
}

/// 32 tasks redeem one code through two stores (two server processes) on one database.
async fn check_single_use_redemption<S: Store + 'static>(stores: [S; 2]) {
    let alice = user(&stores[0], "alice").await;
    stores[0]
        .create_pending("req", &request(None), T0)
        .await
        .unwrap();
    stores[0]
        .approve_pending("req", alice, "the-code", T0)
        .await
        .unwrap();
    let stores = Arc::new(stores);
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let stores = Arc::clone(&stores);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                stores[i % 2].redeem_code("the-code", T0 + 1).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(code) => {
                assert_eq!(code.user, alice);
                ok += 1;
            }
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
}

/// Two stores (two server processes starting on one empty database) race 16 first-key
/// bootstraps: exactly one key is stored, and a later bootstrap is a no-op.
async fn check_bootstrap_race<S: Store + 'static>(stores: [S; 2]) {
    let stores = Arc::new(stores);
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let stores = Arc::clone(&stores);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let kid = format!("boot-{i}");
                barrier.wait().await;
                stores[usize::from(i) % 2]
                    .bootstrap_key(&key(&kid, &[i + 1; 32]), T0)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().expect("losing the race is not an error") {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one bootstrap stores its key");
    assert_eq!(stores[0].verification_keys().await.unwrap().len(), 1);
    assert_eq!(active_count(&stores[1]).await, 1);
    assert!(
        !stores[1]
            .bootstrap_key(&key("late", &[99; 32]), T0 + 1)
            .await
            .unwrap()
    );
    assert_eq!(stores[1].verification_keys().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_key_bootstrap_is_atomic_across_processes() {
    let (_d, s) = fresh().await;
    let other = SqliteStore::open(_d.path().join("issuer.db"))
        .await
        .unwrap();
    check_bootstrap_race([s, other]).await;
}

// ---- refresh tokens -------------------------------------------------------------------------

async fn check_refresh<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    let t = s
        .create_refresh_token("rt-1", &grant(Some(alice)), None, T0)
        .await
        .unwrap();
    assert_eq!(t.grant, grant(Some(alice)));
    assert_eq!(
        s.refresh_token("rt-1", T0 + 1_000_000).await.unwrap(),
        Some(t)
    );
    assert_eq!(s.refresh_token("rt-unknown", T0).await.unwrap(), None);
    assert!(matches!(
        s.create_refresh_token("rt-1", &grant(None), None, T0).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.create_refresh_token("rt-u", &grant(Some(UserId(424_242))), None, T0)
            .await,
        Err(StoreError::NotFound)
    ));

    // Autonomous grant (no user) with a delegate and an absolute expiry.
    let mut g = grant(None);
    g.agent_delegate = Some("delegate-7".into());
    let t2 = s
        .create_refresh_token("rt-2", &g, Some(T0 + 100), T0)
        .await
        .unwrap();
    assert_eq!(s.refresh_token("rt-2", T0 + 99).await.unwrap(), Some(t2));
    assert_eq!(s.refresh_token("rt-2", T0 + 100).await.unwrap(), None);

    // Revocation.
    assert!(s.revoke_refresh_token("rt-1", T0 + 5).await.unwrap());
    assert!(!s.revoke_refresh_token("rt-1", T0 + 6).await.unwrap());
    assert!(!s.revoke_refresh_token("rt-unknown", T0).await.unwrap());
    assert_eq!(s.refresh_token("rt-1", T0 + 7).await.unwrap(), None);

    // Bulk revocation per user and agent.
    s.create_refresh_token("rt-3", &grant(Some(alice)), None, T0)
        .await
        .unwrap();
    s.create_refresh_token("rt-4", &grant(Some(alice)), None, T0)
        .await
        .unwrap();
    let mut other_agent = grant(Some(alice));
    other_agent.agent_id = "https://other.example".into();
    s.create_refresh_token("rt-5", &other_agent, None, T0)
        .await
        .unwrap();
    assert_eq!(
        s.revoke_refresh_tokens_for(alice, AGENT, T0 + 8)
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.refresh_token("rt-3", T0 + 9).await.unwrap(), None);
    assert!(s.refresh_token("rt-5", T0 + 9).await.unwrap().is_some());
}

#[tokio::test]
async fn refresh_tokens() {
    let (_d, s) = fresh().await;
    check_refresh(&s).await;
}

// ---- consents -------------------------------------------------------------------------------

async fn check_consent<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    let bob = user(s, "bob").await;
    assert!(!s.has_consent(alice, AGENT, RESOURCE, &[]).await.unwrap());
    assert_eq!(
        s.consented_scopes(alice, AGENT, RESOURCE).await.unwrap(),
        None
    );

    s.grant_consent(alice, AGENT, RESOURCE, &["data.read", "data.write"], T0)
        .await
        .unwrap();
    for (scopes, want) in [
        (&[][..], true),
        (&["data.read"][..], true),
        (&["data.write", "data.read"][..], true),
        (&["data.read", "data.read"][..], true),
        (&["data.read", "data.delete"][..], false),
        (&["data.delete"][..], false),
    ] {
        assert_eq!(
            s.has_consent(alice, AGENT, RESOURCE, scopes).await.unwrap(),
            want,
            "{scopes:?}"
        );
    }
    // Per user, agent and resource.
    assert!(
        !s.has_consent(bob, AGENT, RESOURCE, &["data.read"])
            .await
            .unwrap()
    );
    assert!(
        !s.has_consent(alice, "https://other.example", RESOURCE, &[])
            .await
            .unwrap()
    );
    assert!(
        !s.has_consent(alice, AGENT, "https://other.example", &[])
            .await
            .unwrap()
    );

    // Grants accumulate.
    s.grant_consent(
        alice,
        AGENT,
        RESOURCE,
        &["data.delete", "data.read"],
        T0 + 1,
    )
    .await
    .unwrap();
    assert!(
        s.has_consent(
            alice,
            AGENT,
            RESOURCE,
            &["data.read", "data.write", "data.delete"]
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.consented_scopes(alice, AGENT, RESOURCE).await.unwrap(),
        Some(vec![
            "data.delete".into(),
            "data.read".into(),
            "data.write".into()
        ])
    );

    // A consent without scopes still counts as "consented to the resource".
    s.grant_consent(bob, AGENT, RESOURCE, &[], T0)
        .await
        .unwrap();
    assert!(s.has_consent(bob, AGENT, RESOURCE, &[]).await.unwrap());
    assert!(
        !s.has_consent(bob, AGENT, RESOURCE, &["data.read"])
            .await
            .unwrap()
    );
    assert_eq!(
        s.consented_scopes(bob, AGENT, RESOURCE).await.unwrap(),
        Some(vec![])
    );

    // Revocation.
    assert!(s.revoke_consent(alice, AGENT, RESOURCE).await.unwrap());
    assert!(!s.revoke_consent(alice, AGENT, RESOURCE).await.unwrap());
    assert!(!s.has_consent(alice, AGENT, RESOURCE, &[]).await.unwrap());
    assert!(s.has_consent(bob, AGENT, RESOURCE, &[]).await.unwrap());

    // Bad input.
    assert!(matches!(
        s.grant_consent(alice, AGENT, RESOURCE, &["a b"], T0).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        s.grant_consent(UserId(424_242), AGENT, RESOURCE, &["a"], T0)
            .await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn consents() {
    let (_d, s) = fresh().await;
    check_consent(&s).await;
}

// ---- sessions -------------------------------------------------------------------------------

async fn check_sessions<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    let created = s
        .create_session("sid-1", "csrf-1", T0 + 900, T0)
        .await
        .unwrap();
    assert_eq!(created.user, None);
    let got = s.session("sid-1", T0).await.unwrap().unwrap();
    assert_eq!(got, created);
    assert_eq!(got.csrf_token, "csrf-1");
    assert!(!format!("{got:?}").contains("csrf-1"));

    s.set_session_user("sid-1", alice, T0 + 1).await.unwrap();
    assert_eq!(
        s.session("sid-1", T0 + 2).await.unwrap().unwrap().user,
        Some(alice)
    );
    assert_eq!(s.session("sid-1", T0 + 900).await.unwrap(), None, "expired");
    assert!(matches!(
        s.set_session_user("sid-1", alice, T0 + 900).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_session_user("sid-1", UserId(424_242), T0 + 3).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_session_user("nope", alice, T0).await,
        Err(StoreError::NotFound)
    ));

    assert!(matches!(
        s.create_session("sid-1", "csrf-x", T0 + 900, T0).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.create_session("sid-2", "csrf-2", T0, T0).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        s.create_session("sid-2", "", T0 + 1, T0).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(s.delete_session("sid-1").await.unwrap());
    assert!(!s.delete_session("sid-1").await.unwrap());
    assert_eq!(s.session("sid-1", T0).await.unwrap(), None);
}

#[tokio::test]
async fn sessions() {
    let (_d, s) = fresh().await;
    check_sessions(&s).await;
}

// ---- signing keys ---------------------------------------------------------------------------

async fn active_count<S: Store>(s: &S) -> usize {
    s.verification_keys()
        .await
        .unwrap()
        .iter()
        .filter(|k| k.active)
        .count()
}

async fn check_keys<S: Store>(s: &S) {
    assert!(s.active_key().await.unwrap().is_none());
    assert!(s.verification_keys().await.unwrap().is_empty());

    s.rotate(&key("k1", &[1; 32]), T0).await.unwrap();
    let k1 = s.active_key().await.unwrap().unwrap();
    assert_eq!(k1.kid, "k1");
    assert_eq!(k1.private_seed.as_slice(), &[1; 32]);
    assert!(!format!("{k1:?}").contains("1, 1"), "Debug elides the seed");
    assert_eq!(active_count(s).await, 1);

    s.rotate(&key("k2", &[2; 32]), T0 + 10).await.unwrap();
    assert_eq!(s.active_key().await.unwrap().unwrap().kid, "k2");
    let kids: Vec<_> = s
        .verification_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(
        kids,
        ["k2", "k1"],
        "the old key stays verifiable, active first"
    );
    assert_eq!(active_count(s).await, 1);

    // A failed rotation (duplicate kid) changes nothing.
    assert!(matches!(
        s.rotate(&key("k1", &[3; 32]), T0 + 20).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.active_key().await.unwrap().unwrap().kid, "k2");
    assert_eq!(active_count(s).await, 1);

    assert!(matches!(
        s.retire("k2", T0 + 30).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.retire("k9", T0 + 30).await,
        Err(StoreError::NotFound)
    ));
    s.retire("k1", T0 + 30).await.unwrap();
    s.retire("k1", T0 + 31).await.unwrap();
    let kids: Vec<_> = s
        .verification_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k2"]);

    s.rotate(&key("k3", &[3; 32]), T0 + 40).await.unwrap();
    let keys = s.verification_keys().await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.kid.as_str(), k.active))
            .collect::<Vec<_>>(),
        [("k3", true), ("k2", false)]
    );
    assert!(matches!(
        s.rotate(&key("", &[3; 32]), T0).await,
        Err(StoreError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn signing_key_rotation() {
    let (_d, s) = fresh().await;
    check_keys(&s).await;
}

// ---- housekeeping ---------------------------------------------------------------------------

#[tokio::test]
async fn purge_expired_removes_only_dead_rows() {
    let (_d, s) = fresh().await;
    check_purge(&s).await;
}

async fn check_purge<S: Store>(s: &S) {
    let alice = user(s, "alice").await;
    s.create_pending("req-old", &request(None), T0)
        .await
        .unwrap();
    s.create_pending("req-new", &request(None), T0 + 1000)
        .await
        .unwrap();
    s.approve_pending("req-old", alice, "code-old", T0)
        .await
        .unwrap();
    s.create_session("sid-old", "c", T0 + 10, T0).await.unwrap();
    s.create_session("sid-new", "c", T0 + 5000, T0)
        .await
        .unwrap();
    s.create_refresh_token("rt-old", &grant(None), Some(T0 + 10), T0)
        .await
        .unwrap();
    s.create_refresh_token("rt-forever", &grant(None), None, T0)
        .await
        .unwrap();
    let now = T0 + 1001;
    assert_eq!(s.purge_expired(now).await.unwrap(), 4);
    assert!(s.pending("req-new", now).await.unwrap().is_some());
    assert!(s.session("sid-new", now).await.unwrap().is_some());
    assert!(s.refresh_token("rt-forever", now).await.unwrap().is_some());
    assert!(matches!(
        s.redeem_code("code-old", now).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.purge_expired(now).await.unwrap(), 0);
}

// ---- durability and at-rest hygiene -----------------------------------------------------------

/// Everything written before the pool is dropped is there after reopening the file.
#[tokio::test]
async fn durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/issuer.db");
    let alice;
    {
        let s = SqliteStore::open(&path).await.unwrap();
        alice = write_for_reopen(&s).await;
        drop(s); // no close(): committed means durable
    }
    let s = SqliteStore::open(&path).await.unwrap();
    check_reopened(&s, &alice).await;
}

/// Writes one of everything a store keeps, for [`check_reopened`] to find after a restart;
/// returns the user it created.
async fn write_for_reopen<S: Store>(s: &S) -> aauth_issuer::store::User {
    let alice = s
        .create_user("alice", &hash_password("pw").unwrap(), T0)
        .await
        .unwrap();
    s.grant_consent(alice.id, AGENT, RESOURCE, &["data.read"], T0)
        .await
        .unwrap();
    s.create_pending("req-1", &request(Some("st")), T0)
        .await
        .unwrap();
    s.create_refresh_token("rt-1", &grant(Some(alice.id)), None, T0)
        .await
        .unwrap();
    s.rotate(&key("k1", &[1; 32]), T0).await.unwrap();
    s.rotate(&key("k2", &[2; 32]), T0 + 1).await.unwrap();
    s.create_session("sid-1", "csrf", T0 + 900, T0)
        .await
        .unwrap();
    alice
}

async fn check_reopened<S: Store>(s: &S, alice: &aauth_issuer::store::User) {
    assert_eq!(s.user_by_name("alice").await.unwrap().as_ref(), Some(alice));
    assert_eq!(
        s.verify_password("alice", "pw").await.unwrap().as_ref(),
        Some(alice)
    );
    assert!(
        s.has_consent(alice.id, AGENT, RESOURCE, &["data.read"])
            .await
            .unwrap()
    );
    let p = s.pending("req-1", T0 + 1).await.unwrap().unwrap();
    assert_eq!(p.request, request(Some("st")));
    assert_eq!(
        s.refresh_token("rt-1", T0).await.unwrap().unwrap().grant,
        grant(Some(alice.id))
    );
    let active = s.active_key().await.unwrap().unwrap();
    assert_eq!(
        (active.kid.as_str(), active.private_seed.as_slice()),
        ("k2", &[2u8; 32][..])
    );
    assert_eq!(s.verification_keys().await.unwrap().len(), 2);
    assert!(s.session("sid-1", T0).await.unwrap().is_some());
}

/// A child process writes, reports, and is killed with SIGKILL while its pool is still
/// open; the parent then finds everything in the file.
#[tokio::test]
async fn durable_across_sigkill() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuer.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AAUTH_SIGKILL_DB", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            // libtest may print "test sigkill_child ... " before the marker on the same line.
            if reader.read_line(&mut line).unwrap() == 0 {
                return String::new();
            }
            if let Some(at) = line.find("WRITTEN ") {
                return line[at..].to_owned();
            }
        }
    })
    .await
    .unwrap();
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let alice_id: i64 = line
        .trim()
        .strip_prefix("WRITTEN ")
        .expect("child wrote")
        .parse()
        .unwrap();

    let s = SqliteStore::open(&path).await.unwrap();
    let alice = s.user_by_id(UserId(alice_id)).await.unwrap().unwrap();
    check_reopened(&s, &alice).await;
}

/// Not a test on its own: the writer half of [`durable_across_sigkill`].
#[tokio::test]
#[ignore = "run by durable_across_sigkill as a child process"]
async fn sigkill_child() {
    let Some(path) = std::env::var_os("AAUTH_SIGKILL_DB") else {
        return;
    };
    let s = SqliteStore::open(Path::new(&path)).await.unwrap();
    let alice = write_for_reopen(&s).await;
    println!("WRITTEN {}", alice.id);
    // Wait to be killed, pool open and WAL not checkpointed.
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
}

/// Request tokens, codes, refresh tokens and session ids never reach the disk in plaintext.
#[tokio::test]
async fn secrets_are_not_stored_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuer.db");
    let secrets = [
        "REQUEST-TOKEN-c2VjcmV0",
        "AUTH-CODE-c2VjcmV0",
        "REFRESH-TOKEN-c2VjcmV0",
        "SESSION-ID-c2VjcmV0",
    ];
    {
        let s = SqliteStore::open(&path).await.unwrap();
        let alice = user(&s, "alice").await;
        s.create_pending(secrets[0], &request(None), T0)
            .await
            .unwrap();
        s.approve_pending(secrets[0], alice, secrets[1], T0)
            .await
            .unwrap();
        s.create_refresh_token(secrets[2], &grant(Some(alice)), None, T0)
            .await
            .unwrap();
        s.create_session(secrets[3], "csrf", T0 + 60, T0)
            .await
            .unwrap();
        assert!(s.refresh_token(secrets[2], T0).await.unwrap().is_some());
        drop(s);
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(
        bytes.windows(5).any(|w| w == b"alice"),
        "sanity: the files hold the data"
    );
    for secret in secrets {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} leaked"
        );
    }
}

#[tokio::test]
async fn reopening_is_idempotent_and_creates_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    assert!(path.exists());
    let s = SqliteStore::open(&path).await.unwrap();
    user(&s, "alice").await;
    s.close().await;
    let s = SqliteStore::open(&path).await.unwrap();
    assert!(s.user_by_name("alice").await.unwrap().is_some());
}

// ---- PostgreSQL -----------------------------------------------------------------------------

/// A skipped PostgreSQL test is visible in a plain `cargo test` run: this binary, re-run
/// for just that test with `AAUTH_SKIP_POSTGRES=1` and output capture on, prints the
/// `SKIPPED:` line.
#[test]
fn a_skipped_postgres_test_says_so_on_stderr() {
    const TEST: &str = "postgres_backend_meets_the_same_contract";
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--test-threads", "1"])
        .env("AAUTH_SKIP_POSTGRES", "1")
        .output()
        .expect("re-run the test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("SKIPPED: {TEST}: AAUTH_SKIP_POSTGRES=1")),
        "no SKIPPED line on stderr: {stderr:?}"
    );
}

/// Every generic check above, on PostgreSQL: one cluster, a fresh database per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backend_meets_the_same_contract() {
    let Some(pg) = pg_cluster::PgCluster::start() else {
        return;
    };
    let mut n = 0;
    let mut fresh_pg = async || {
        n += 1;
        PgStore::connect(&pg.fresh_database(&format!("contract_{n}")).await)
            .await
            .unwrap()
    };
    check_users(&fresh_pg().await).await;
    check_pending_lifecycle(&fresh_pg().await).await;
    check_request_token_expiry(&fresh_pg().await).await;
    check_code_expiry(&fresh_pg().await).await;
    check_refresh(&fresh_pg().await).await;
    check_consent(&fresh_pg().await).await;
    check_sessions(&fresh_pg().await).await;
    check_keys(&fresh_pg().await).await;
    check_purge(&fresh_pg().await).await;

    // Two pools on one database: two auth server processes racing for one code.
    let url = pg.fresh_database("race").await;
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    check_single_use_redemption([a, b]).await;

    // Two instances starting together on an empty database agree on one signing key.
    let url = pg.fresh_database("bootstrap").await;
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    check_bootstrap_race([a, b]).await;

    // Reconnecting (a restart) re-runs the migrator as a no-op and finds the data.
    let url = pg.fresh_database("reopen").await;
    let alice;
    {
        let s = PgStore::connect(&url).await.unwrap();
        alice = write_for_reopen(&s).await;
        s.close().await;
    }
    let s = PgStore::connect(&url).await.unwrap();
    check_reopened(&s, &alice).await;

    // Secrets are stored as digests there too.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
        "SELECT token_hash FROM pending_requests UNION ALL SELECT token_hash FROM refresh_tokens \
         UNION ALL SELECT id_hash FROM sessions",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for (h,) in rows {
        assert_eq!(h.len(), 32);
        for secret in ["req-1", "rt-1", "sid-1"] {
            assert!(!h.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}
