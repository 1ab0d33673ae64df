//! The [`Store`](super::Store) implementation both backends share, written once.
//!
//! Every statement, its bindings, its row mapping and its error mapping are the same on
//! SQLite and PostgreSQL, so they live here, in [`impl_store!`], which each backend expands
//! for its own store type and sqlx database. What differs stays in the backend: connecting,
//! pragmas, migrations, and the reasoning why a single-use `UPDATE` matches once.
//!
//! The SQL is written in the common subset of both dialects:
//!
//! * **Placeholders are `$1`..`$N`.** PostgreSQL numbers its parameters so; SQLite reads
//!   `$1` as a named parameter, and sqlx 0.8 binds a `$NNN` name by its number (a test
//!   below pins this), so a number may repeat (`$1` for `now` twice). Every statement also
//!   introduces its numbers in increasing order, so it would bind the same under a rule of
//!   "in order of first appearance".
//! * **`active` is a boolean expression** (`WHERE active`, `NOT active`, `true`, `false`):
//!   SQLite reads the 0/1 INTEGER column as its truth value, knows `TRUE`/`FALSE` as 1/0,
//!   and sqlx decodes that column as `bool`.
//! * **Byte-order sorting** is the one fragment a backend passes in, because the collation
//!   has a different name: `BINARY` in SQLite, `"C"` in PostgreSQL.
//!
//! A macro rather than a function generic over `sqlx::Database`: the generic version needs
//! `Encode`/`Type` bounds for every bound type plus higher-ranked `Executor` bounds on the
//! pool and the transaction, repeated on each function, and its futures must still prove
//! `Send` for the [`Store`](super::Store) signatures. The expansion is plain concrete sqlx
//! code that the compiler and clippy check once per backend.

/// The statements that find the active signing key by `WHERE active`. Named so that the
/// SQLite test can check that each is answered from the partial unique index on the active
/// row (`migrations/sqlite/0002_active_key_index.sql`), not by scanning every retired key.
pub(super) const ACTIVE_KEY: &str =
    "SELECT kid, alg, private_seed, public_jwk, created_at FROM signing_keys WHERE active";
/// `rotate`'s first step: the partial unique index allows only one active row.
pub(super) const DEACTIVATE_KEYS: &str = "UPDATE signing_keys SET active = false WHERE active";
/// `bootstrap_key`: the `NOT EXISTS` guard and the partial unique index on the active row
/// together let exactly one of several concurrent first starts insert.
pub(super) const BOOTSTRAP_KEY: &str = "INSERT INTO signing_keys \
     (kid, alg, private_seed, public_jwk, created_at, active) \
     SELECT $1, $2, $3, $4, $5, true \
     WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE active)";

/// Implements [`Store`](super::Store) for `$store`, a struct of the invoking module with a
/// `pool: sqlx::Pool<$db>` field, inside a private module `store_impl`. `$db` is a full
/// path (`sqlx::Sqlite`); `byte_order` is the `COLLATE` clause that sorts text by its bytes.
macro_rules! impl_store {
    ($store:ident, $db:ty, byte_order = $byte_order:literal) => {
        mod store_impl {
            use std::collections::BTreeSet;

            use sqlx::{Row, Transaction};
            use zeroize::Zeroizing;

            use super::$store;
            use $crate::store::queries::{ACTIVE_KEY, BOOTSTRAP_KEY, DEACTIVATE_KEYS};
            use $crate::store::sql::{
                SqlRow, bootstrapped, fk_is_not_found, from_db, pending_from_row, request_from_row,
                to_db, user_from_row, why_unusable,
            };
            use $crate::store::{
                AuthorizationCode, AuthorizationRequest, CODE_TTL, NewSigningKey, PendingRequest,
                REQUEST_TOKEN_TTL, RefreshGrant, RefreshToken, Session, SigningKey, Store,
                StoreError, User, UserId, VerificationKey, check_jwk, check_new_key,
                check_new_session, check_new_user, check_scopes, secret_digest,
            };

            /// The columns of an [`AuthorizationRequest`], in the order [`request_from_row`] reads
            /// them.
            const REQUEST_COLUMNS: &str = "agent_id, agent_delegate, agent_jwk, agent_jkt, \
                                           resource_id, scope, redirect_uri, state";

            impl $store {
                /// After a single-use `UPDATE … RETURNING` matched nothing, says why (unknown,
                /// expired or used) from a second read.
                async fn why_not(
                    &self,
                    sql: &'static str,
                    digest: Vec<u8>,
                    now: u64,
                ) -> Result<StoreError, StoreError> {
                    let row = sqlx::query(sql)
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    let Some(row) = row else {
                        return Ok(StoreError::NotFound);
                    };
                    let expires_at = row.time("expires_at")?;
                    let used: Option<i64> = row.try_get("used")?;
                    Ok(why_unusable(expires_at, used.is_some(), now))
                }
            }

            impl Store for $store {
                async fn create_user(
                    &self,
                    name: &str,
                    password_hash: &str,
                    now: u64,
                ) -> Result<User, StoreError> {
                    check_new_user(name, password_hash)?;
                    let row = sqlx::query(
                        "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) \
                         RETURNING id",
                    )
                    .bind(name)
                    .bind(password_hash)
                    .bind(to_db(now)?)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(User {
                        id: UserId(row.try_get("id")?),
                        name: name.to_owned(),
                        password_hash: password_hash.to_owned(),
                        created_at: now,
                    })
                }

                async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
                    sqlx::query(
                        "SELECT id, name, password_hash, created_at FROM users WHERE name = $1",
                    )
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| user_from_row(&r))
                    .transpose()
                }

                async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
                    sqlx::query(
                        "SELECT id, name, password_hash, created_at FROM users WHERE id = $1",
                    )
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| user_from_row(&r))
                    .transpose()
                }

                async fn create_pending(
                    &self,
                    token: &str,
                    request: &AuthorizationRequest,
                    now: u64,
                ) -> Result<PendingRequest, StoreError> {
                    let digest = secret_digest(token)?;
                    check_jwk(&request.agent_jwk, "agent_jwk")?;
                    let expires_at = now
                        .checked_add(REQUEST_TOKEN_TTL)
                        .ok_or(StoreError::InvalidInput("now"))?;
                    let r = request;
                    sqlx::query(
                        "INSERT INTO pending_requests (token_hash, agent_id, agent_delegate, \
                         agent_jwk, agent_jkt, resource_id, scope, redirect_uri, state, \
                         created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(digest)
                    .bind(&r.agent_id)
                    .bind(&r.agent_delegate)
                    .bind(&r.agent_jwk)
                    .bind(&r.agent_jkt)
                    .bind(&r.resource_id)
                    .bind(&r.scope)
                    .bind(&r.redirect_uri)
                    .bind(&r.state)
                    .bind(to_db(now)?)
                    .bind(to_db(expires_at)?)
                    .execute(&self.pool)
                    .await?;
                    Ok(PendingRequest {
                        request: request.clone(),
                        created_at: now,
                        expires_at,
                    })
                }

                async fn pending(
                    &self,
                    token: &str,
                    now: u64,
                ) -> Result<Option<PendingRequest>, StoreError> {
                    let digest = secret_digest(token)?;
                    let sql = format!(
                        "SELECT {REQUEST_COLUMNS}, created_at, expires_at FROM pending_requests \
                         WHERE token_hash = $1 AND decided_at IS NULL AND expires_at > $2"
                    );
                    sqlx::query(&sql)
                        .bind(digest)
                        .bind(to_db(now)?)
                        .fetch_optional(&self.pool)
                        .await?
                        .map(|r| pending_from_row(&r))
                        .transpose()
                }

                async fn approve_pending(
                    &self,
                    token: &str,
                    user: UserId,
                    code: &str,
                    now: u64,
                ) -> Result<AuthorizationCode, StoreError> {
                    let digest = secret_digest(token)?;
                    let code_digest = secret_digest(code)?;
                    let expires_at = now
                        .checked_add(CODE_TTL)
                        .ok_or(StoreError::InvalidInput("now"))?;
                    let mut tx = self.pool.begin().await?;
                    let Some((pending_id, request)) =
                        decide(&mut tx, &digest, "approved", Some(user), now).await?
                    else {
                        drop(tx);
                        return Err(self.why_not(PENDING_STATUS, digest, now).await?);
                    };
                    let insert = format!(
                        "INSERT INTO authorization_codes (code_hash, pending_id, user_id, \
                         {REQUEST_COLUMNS}, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    );
                    sqlx::query(&insert)
                        .bind(code_digest)
                        .bind(pending_id)
                        .bind(user.0)
                        .bind(&request.agent_id)
                        .bind(&request.agent_delegate)
                        .bind(&request.agent_jwk)
                        .bind(&request.agent_jkt)
                        .bind(&request.resource_id)
                        .bind(&request.scope)
                        .bind(&request.redirect_uri)
                        .bind(&request.state)
                        .bind(to_db(now)?)
                        .bind(to_db(expires_at)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(fk_is_not_found)?;
                    tx.commit().await?;
                    Ok(AuthorizationCode {
                        request,
                        user,
                        created_at: now,
                        expires_at,
                    })
                }

                async fn deny_pending(
                    &self,
                    token: &str,
                    now: u64,
                ) -> Result<PendingRequest, StoreError> {
                    let digest = secret_digest(token)?;
                    let mut tx = self.pool.begin().await?;
                    let Some((pending_id, request)) =
                        decide(&mut tx, &digest, "denied", None, now).await?
                    else {
                        drop(tx);
                        return Err(self.why_not(PENDING_STATUS, digest, now).await?);
                    };
                    let row = sqlx::query(
                        "SELECT created_at, expires_at FROM pending_requests WHERE id = $1",
                    )
                    .bind(pending_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(PendingRequest {
                        request,
                        created_at: row.time("created_at")?,
                        expires_at: row.time("expires_at")?,
                    })
                }

                async fn redeem_code(
                    &self,
                    code: &str,
                    now: u64,
                ) -> Result<AuthorizationCode, StoreError> {
                    let digest = secret_digest(code)?;
                    // One statement, so exactly one concurrent caller gets the row back; why that
                    // holds is each backend's argument, next to its `impl_store!`.
                    let sql = format!(
                        "UPDATE authorization_codes SET used_at = $1 \
                         WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                         RETURNING user_id, {REQUEST_COLUMNS}, created_at, expires_at"
                    );
                    let row = sqlx::query(&sql)
                        .bind(to_db(now)?)
                        .bind(&digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    match row {
                        Some(row) => Ok(AuthorizationCode {
                            request: request_from_row(&row)?,
                            user: UserId(row.try_get("user_id")?),
                            created_at: row.time("created_at")?,
                            expires_at: row.time("expires_at")?,
                        }),
                        None => Err(self.why_not(CODE_STATUS, digest, now).await?),
                    }
                }

                async fn create_refresh_token(
                    &self,
                    token: &str,
                    grant: &RefreshGrant,
                    expires_at: Option<u64>,
                    now: u64,
                ) -> Result<RefreshToken, StoreError> {
                    let digest = secret_digest(token)?;
                    check_jwk(&grant.agent_jwk, "agent_jwk")?;
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, agent_id, agent_delegate, \
                         user_id, resource_id, scope, agent_jwk, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(digest)
                    .bind(&grant.agent_id)
                    .bind(&grant.agent_delegate)
                    .bind(grant.user.map(|u| u.0))
                    .bind(&grant.resource_id)
                    .bind(&grant.scope)
                    .bind(&grant.agent_jwk)
                    .bind(to_db(now)?)
                    .bind(expires_at.map(to_db).transpose()?)
                    .execute(&self.pool)
                    .await
                    .map_err(fk_is_not_found)?;
                    Ok(RefreshToken {
                        grant: grant.clone(),
                        created_at: now,
                        expires_at,
                    })
                }

                async fn refresh_token(
                    &self,
                    token: &str,
                    now: u64,
                ) -> Result<Option<RefreshToken>, StoreError> {
                    let digest = secret_digest(token)?;
                    let row = sqlx::query(
                        "SELECT agent_id, agent_delegate, user_id, resource_id, scope, agent_jwk, \
                         created_at, expires_at FROM refresh_tokens \
                         WHERE token_hash = $1 AND revoked_at IS NULL \
                         AND (expires_at IS NULL OR expires_at > $2)",
                    )
                    .bind(digest)
                    .bind(to_db(now)?)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    let expires_at: Option<i64> = row.try_get("expires_at")?;
                    Ok(Some(RefreshToken {
                        grant: RefreshGrant {
                            agent_id: row.try_get("agent_id")?,
                            agent_delegate: row.try_get("agent_delegate")?,
                            user: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
                            resource_id: row.try_get("resource_id")?,
                            scope: row.try_get("scope")?,
                            agent_jwk: row.try_get("agent_jwk")?,
                        },
                        created_at: row.time("created_at")?,
                        expires_at: expires_at.map(|e| from_db(e, "expires_at")).transpose()?,
                    }))
                }

                async fn revoke_refresh_token(
                    &self,
                    token: &str,
                    now: u64,
                ) -> Result<bool, StoreError> {
                    let digest = secret_digest(token)?;
                    let done = sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $1 \
                         WHERE token_hash = $2 AND revoked_at IS NULL",
                    )
                    .bind(to_db(now)?)
                    .bind(digest)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn revoke_refresh_tokens_for(
                    &self,
                    user: UserId,
                    agent_id: &str,
                    now: u64,
                ) -> Result<u64, StoreError> {
                    let done = sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $1 \
                         WHERE user_id = $2 AND agent_id = $3 AND revoked_at IS NULL",
                    )
                    .bind(to_db(now)?)
                    .bind(user.0)
                    .bind(agent_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn grant_consent(
                    &self,
                    user: UserId,
                    agent_id: &str,
                    resource_id: &str,
                    scopes: &[&str],
                    now: u64,
                ) -> Result<(), StoreError> {
                    check_scopes(scopes)?;
                    let now_db = to_db(now)?;
                    let mut tx = self.pool.begin().await?;
                    let row = sqlx::query(
                        "INSERT INTO consents (user_id, agent_id, resource_id, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (user_id, agent_id, resource_id) \
                         DO UPDATE SET updated_at = $4 \
                         RETURNING id",
                    )
                    .bind(user.0)
                    .bind(agent_id)
                    .bind(resource_id)
                    .bind(now_db)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fk_is_not_found)?;
                    let consent_id: i64 = row.try_get("id")?;
                    for scope in scopes {
                        sqlx::query(
                            "INSERT INTO consent_scopes (consent_id, scope, granted_at) \
                             VALUES ($1, $2, $3) ON CONFLICT (consent_id, scope) DO NOTHING",
                        )
                        .bind(consent_id)
                        .bind(*scope)
                        .bind(now_db)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn has_consent(
                    &self,
                    user: UserId,
                    agent_id: &str,
                    resource_id: &str,
                    scopes: &[&str],
                ) -> Result<bool, StoreError> {
                    let Some(granted) = self.consented_scopes(user, agent_id, resource_id).await?
                    else {
                        return Ok(false);
                    };
                    let granted: BTreeSet<&str> = granted.iter().map(String::as_str).collect();
                    Ok(scopes.iter().all(|s| granted.contains(s)))
                }

                async fn consented_scopes(
                    &self,
                    user: UserId,
                    agent_id: &str,
                    resource_id: &str,
                ) -> Result<Option<Vec<String>>, StoreError> {
                    let rows = sqlx::query(concat!(
                        "SELECT s.scope FROM consents c \
                         LEFT JOIN consent_scopes s ON s.consent_id = c.id \
                         WHERE c.user_id = $1 AND c.agent_id = $2 AND c.resource_id = $3 \
                         ORDER BY s.scope ",
                        $byte_order
                    ))
                    .bind(user.0)
                    .bind(agent_id)
                    .bind(resource_id)
                    .fetch_all(&self.pool)
                    .await?;
                    if rows.is_empty() {
                        return Ok(None);
                    }
                    let mut scopes = Vec::with_capacity(rows.len());
                    for row in rows {
                        if let Some(scope) = row.try_get::<Option<String>, _>("scope")? {
                            scopes.push(scope);
                        }
                    }
                    Ok(Some(scopes))
                }

                async fn revoke_consent(
                    &self,
                    user: UserId,
                    agent_id: &str,
                    resource_id: &str,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "DELETE FROM consents \
                         WHERE user_id = $1 AND agent_id = $2 AND resource_id = $3",
                    )
                    .bind(user.0)
                    .bind(agent_id)
                    .bind(resource_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn create_session(
                    &self,
                    session_id: &str,
                    csrf_token: &str,
                    expires_at: u64,
                    now: u64,
                ) -> Result<Session, StoreError> {
                    let digest = secret_digest(session_id)?;
                    check_new_session(csrf_token, expires_at, now)?;
                    sqlx::query(
                        "INSERT INTO sessions (id_hash, csrf_token, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(digest)
                    .bind(csrf_token)
                    .bind(to_db(now)?)
                    .bind(to_db(expires_at)?)
                    .execute(&self.pool)
                    .await?;
                    Ok(Session {
                        user: None,
                        csrf_token: csrf_token.to_owned(),
                        created_at: now,
                        expires_at,
                    })
                }

                async fn session(
                    &self,
                    session_id: &str,
                    now: u64,
                ) -> Result<Option<Session>, StoreError> {
                    let digest = secret_digest(session_id)?;
                    let row = sqlx::query(
                        "SELECT user_id, csrf_token, created_at, expires_at FROM sessions \
                         WHERE id_hash = $1 AND expires_at > $2",
                    )
                    .bind(digest)
                    .bind(to_db(now)?)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    Ok(Some(Session {
                        user: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
                        csrf_token: row.try_get("csrf_token")?,
                        created_at: row.time("created_at")?,
                        expires_at: row.time("expires_at")?,
                    }))
                }

                async fn set_session_user(
                    &self,
                    session_id: &str,
                    user: UserId,
                    now: u64,
                ) -> Result<(), StoreError> {
                    let digest = secret_digest(session_id)?;
                    let done = sqlx::query(
                        "UPDATE sessions SET user_id = $1 WHERE id_hash = $2 AND expires_at > $3",
                    )
                    .bind(user.0)
                    .bind(digest)
                    .bind(to_db(now)?)
                    .execute(&self.pool)
                    .await
                    .map_err(fk_is_not_found)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn delete_session(&self, session_id: &str) -> Result<bool, StoreError> {
                    let digest = secret_digest(session_id)?;
                    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                        .bind(digest)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn active_key(&self) -> Result<Option<SigningKey>, StoreError> {
                    let row = sqlx::query(ACTIVE_KEY).fetch_optional(&self.pool).await?;
                    let Some(row) = row else { return Ok(None) };
                    Ok(Some(SigningKey {
                        kid: row.try_get("kid")?,
                        alg: row.try_get("alg")?,
                        private_seed: Zeroizing::new(row.try_get("private_seed")?),
                        public_jwk: row.try_get("public_jwk")?,
                        created_at: row.time("created_at")?,
                    }))
                }

                async fn verification_keys(&self) -> Result<Vec<VerificationKey>, StoreError> {
                    let rows = sqlx::query(concat!(
                        "SELECT kid, alg, public_jwk, active, created_at FROM signing_keys \
                         WHERE retired_at IS NULL ORDER BY active DESC, created_at DESC, kid ",
                        $byte_order
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(VerificationKey {
                                kid: row.try_get("kid")?,
                                alg: row.try_get("alg")?,
                                public_jwk: row.try_get("public_jwk")?,
                                active: row.try_get("active")?,
                                created_at: row.time("created_at")?,
                            })
                        })
                        .collect()
                }

                async fn rotate(
                    &self,
                    key: &NewSigningKey<'_>,
                    now: u64,
                ) -> Result<(), StoreError> {
                    check_new_key(key)?;
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(DEACTIVATE_KEYS).execute(&mut *tx).await?;
                    sqlx::query(
                        "INSERT INTO signing_keys \
                         (kid, alg, private_seed, public_jwk, created_at, active) \
                         VALUES ($1, $2, $3, $4, $5, true)",
                    )
                    .bind(key.kid)
                    .bind(key.alg)
                    .bind(key.private_seed)
                    .bind(key.public_jwk)
                    .bind(to_db(now)?)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn bootstrap_key(
                    &self,
                    key: &NewSigningKey<'_>,
                    now: u64,
                ) -> Result<bool, StoreError> {
                    check_new_key(key)?;
                    // One statement (see BOOTSTRAP_KEY).
                    let done = sqlx::query(BOOTSTRAP_KEY)
                        .bind(key.kid)
                        .bind(key.alg)
                        .bind(key.private_seed)
                        .bind(key.public_jwk)
                        .bind(to_db(now)?)
                        .execute(&self.pool)
                        .await
                        .map(|done| done.rows_affected());
                    bootstrapped(done)
                }

                async fn retire(&self, kid: &str, now: u64) -> Result<(), StoreError> {
                    let done = sqlx::query(
                        "UPDATE signing_keys SET retired_at = $1 \
                         WHERE kid = $2 AND NOT active AND retired_at IS NULL",
                    )
                    .bind(to_db(now)?)
                    .bind(kid)
                    .execute(&self.pool)
                    .await?;
                    if done.rows_affected() > 0 {
                        return Ok(());
                    }
                    let row = sqlx::query("SELECT active FROM signing_keys WHERE kid = $1")
                        .bind(kid)
                        .fetch_optional(&self.pool)
                        .await?;
                    match row {
                        None => Err(StoreError::NotFound),
                        Some(row) if row.try_get::<bool, _>("active")? => Err(StoreError::Conflict),
                        Some(_) => Ok(()),
                    }
                }

                async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
                    let now = to_db(now)?;
                    let mut tx = self.pool.begin().await?;
                    let mut n = 0;
                    for sql in [
                        "DELETE FROM authorization_codes WHERE expires_at <= $1",
                        "DELETE FROM pending_requests WHERE expires_at <= $1",
                        "DELETE FROM sessions WHERE expires_at <= $1",
                        "DELETE FROM refresh_tokens WHERE expires_at <= $1",
                    ] {
                        n += sqlx::query(sql)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    tx.commit().await?;
                    Ok(n)
                }
            }

            /// Why a pending request could not be decided.
            const PENDING_STATUS: &str =
                "SELECT expires_at, decided_at AS used FROM pending_requests WHERE token_hash = $1";

            /// Why a code could not be redeemed.
            const CODE_STATUS: &str =
                "SELECT expires_at, used_at AS used FROM authorization_codes WHERE code_hash = $1";

            /// Marks a live, undecided pending request decided, as the first (write) statement
            /// of `tx`; why a concurrent decision then matches nothing is the backend's argument
            /// (next to its `impl_store!`). Returns its row id and contents, or `None` if
            /// nothing matched.
            async fn decide(
                tx: &mut Transaction<'static, $db>,
                digest: &[u8],
                decision: &'static str,
                user: Option<UserId>,
                now: u64,
            ) -> Result<Option<(i64, AuthorizationRequest)>, StoreError> {
                let sql = format!(
                    "UPDATE pending_requests SET decided_at = $1, decision = $2, user_id = $3 \
                     WHERE token_hash = $4 AND decided_at IS NULL AND expires_at > $1 \
                     RETURNING id, {REQUEST_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(to_db(now)?)
                    .bind(decision)
                    .bind(user.map(|u| u.0))
                    .bind(digest)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(fk_is_not_found)?;
                row.map(|row| Ok((row.try_get("id")?, request_from_row(&row)?)))
                    .transpose()
            }
        }
    };
}

pub(super) use impl_store;

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePool;
    use sqlx::{Row, Sqlite};

    /// The shared SQL relies on SQLite binding `$N` by its number: out of order and repeated.
    #[tokio::test]
    async fn sqlite_binds_dollar_placeholders_by_number() {
        let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
        let row = sqlx::query::<Sqlite>("SELECT $2 AS a, $1 AS b, $2 AS c, $3 AS d")
            .bind("one")
            .bind("two")
            .bind("three")
            .fetch_one(&pool)
            .await
            .unwrap();
        let got: [String; 4] = ["a", "b", "c", "d"].map(|c| row.try_get(c).unwrap());
        assert_eq!(got, ["two", "one", "two", "three"]);
    }

    /// `active` is written as a boolean expression and decoded as `bool` on SQLite too.
    #[tokio::test]
    async fn sqlite_reads_an_integer_flag_as_bool() {
        let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (active INTEGER NOT NULL CHECK (active IN (0, 1)))")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (active) VALUES (true), (false)")
            .execute(&pool)
            .await
            .unwrap();
        let on: Vec<bool> = sqlx::query_scalar("SELECT active FROM t WHERE active")
            .fetch_all(&pool)
            .await
            .unwrap();
        let off: Vec<bool> = sqlx::query_scalar("SELECT active FROM t WHERE NOT active")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!((on, off), (vec![true], vec![false]));
    }
}
