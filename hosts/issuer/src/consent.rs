//! `GET`/`POST /agent/auth`: the login and consent pages (L§9.5).
//!
//! # Sessions and CSRF
//!
//! The first `GET` creates an anonymous browser session (cookie `aauth_session`,
//! `HttpOnly; SameSite=Lax; Path=/agent/auth`, plus `Secure` when the issuer is https) with
//! a CSRF token, stored server side. A successful login replaces it with a fresh session
//! (against fixation). Every `POST` needs a live session, and:
//!
//! * when the form carries `csrf_token` (our pages always include it) it must equal the
//!   session's token (constant-time comparison);
//! * the reference agent's form driver posts only `request_token, redirect_uri,
//!   action=login, username, password` and `request_token, redirect_uri, consent=…`, so a
//!   post *without* `csrf_token` is accepted only when it carries no cross-origin signal:
//!   an `Origin` header, if present, must be this issuer's origin, and so must a `Referer`.
//!   Browsers always send `Origin` on cross-origin form posts, and `SameSite=Lax` keeps the
//!   session cookie off them anyway, so the fallback only admits non-browser clients that
//!   already hold the cookie.
//!
//! A present `Origin` that is not ours is refused in every case.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;
use crate::login_throttle::LockedOut;
use crate::pages::{self, RequestView};
use crate::server::{Inner, Issuer, random_token};
use crate::store::{PendingRequest, Session, Store, StoreError, UserId};

const COOKIE: &str = "aauth_session";

/// Longest user name and password a login accepts; longer ones fail without a hash.
const MAX_USERNAME: usize = 256;
const MAX_PASSWORD: usize = 1024;

/// The consent page's query and form (`aauth_core::form`: a repeated name is refused).
fn parse_pairs(text: &[u8]) -> Result<HashMap<String, String>, Error> {
    aauth_core::form::parse_unique(text)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|e| Error::page(StatusCode::BAD_REQUEST, e.to_string()))
}

fn get<'a>(m: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    m.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn set_cookie<S>(inner: &Inner<S>, id: &str) -> Option<HeaderValue> {
    let secure = if inner.config.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/agent/auth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        inner.config.session_ttl
    ))
    .ok()
}

/// The pending request for `request_token`, checked against the `redirect_uri` sent.
async fn pending<S: Store>(
    inner: &Inner<S>,
    token: Option<&str>,
    redirect_uri: Option<&str>,
    now: u64,
) -> Result<PendingRequest, Error> {
    let token = token
        .ok_or_else(|| Error::page(StatusCode::BAD_REQUEST, "Missing request_token parameter"))?;
    let p = inner.store.pending(token, now).await?.ok_or_else(|| {
        Error::page(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid or has expired.",
        )
    })?;
    if let Some(r) = redirect_uri
        && r != p.request.redirect_uri
    {
        return Err(Error::page(
            StatusCode::BAD_REQUEST,
            "redirect_uri does not match the authorization request.",
        ));
    }
    Ok(p)
}

fn view<'a, S>(
    inner: &'a Inner<S>,
    p: &'a PendingRequest,
    token: &'a str,
    session: &'a Session,
) -> RequestView<'a> {
    RequestView {
        app_name: &inner.config.app_name,
        agent: &p.request.agent_id,
        agent_delegate: p.request.agent_delegate.as_deref(),
        resource: &p.request.resource_id,
        scope: &p.request.scope,
        request_token: token,
        redirect_uri: &p.request.redirect_uri,
        csrf_token: &session.csrf_token,
    }
}

/// The pages' CSP. `form-action` also names the origin of the request's `redirect_uri`:
/// browsers (Chromium) apply `form-action` to the redirects that follow a form submission,
/// and the approve/deny post is answered with a 303 to the agent's `redirect_uri`, so
/// `'self'` alone blocks the way back to the agent. An origin that is not plain
/// `scheme://host[:port]` (it would be pasted into the header) is left out.
fn csp(redirect_uri: &str) -> HeaderValue {
    const BASE: &str =
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";
    let origin = url::Url::parse(redirect_uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| {
            o.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:/[]".contains(&b))
        });
    origin
        .and_then(|o| HeaderValue::from_str(&format!("{BASE} {o}")).ok())
        .unwrap_or_else(|| HeaderValue::from_static(BASE))
}

fn html(
    status: StatusCode,
    body: String,
    cookie: Option<HeaderValue>,
    redirect_uri: &str,
) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, csp(redirect_uri));
    if let Some(c) = cookie {
        h.insert(header::SET_COOKIE, c);
    }
    resp
}

/// The login page again, with `msg` above the form.
fn login_again<S>(
    inner: &Inner<S>,
    p: &PendingRequest,
    token: &str,
    session: &Session,
    status: StatusCode,
    msg: &str,
) -> Response {
    let page = pages::login_page(&view(inner, p, token, session), Some(msg));
    html(status, page, None, &p.request.redirect_uri)
}

/// `429` with `Retry-After`: the name is locked out after repeated failed sign-ins (see
/// [`login_throttle`](crate::login_throttle)).
fn locked_out<S>(
    inner: &Inner<S>,
    p: &PendingRequest,
    token: &str,
    session: &Session,
    locked: LockedOut,
) -> Response {
    let msg = locked.to_string();
    let mut resp = login_again(
        inner,
        p,
        token,
        session,
        StatusCode::TOO_MANY_REQUESTS,
        &msg,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(locked.retry_after));
    resp
}

fn see_other(location: &str, cookie: Option<HeaderValue>) -> Result<Response, Error> {
    let loc = HeaderValue::from_str(location)
        .map_err(|_| Error::page(StatusCode::BAD_REQUEST, "Invalid redirect target"))?;
    let mut resp = StatusCode::SEE_OTHER.into_response();
    resp.headers_mut().insert(header::LOCATION, loc);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// `redirect_uri` plus query parameters (`&` when it already has a query).
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    if let Some(s) = state {
        ser.append_pair("state", s);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", ser.finish())
}

async fn new_session<S: Store>(
    inner: &Inner<S>,
    user: Option<UserId>,
    now: u64,
) -> Result<(String, Session), Error> {
    let id = random_token();
    let mut session = inner
        .store
        .create_session(&id, &random_token(), now + inner.config.session_ttl, now)
        .await?;
    if let Some(u) = user {
        inner.store.set_session_user(&id, u, now).await?;
        session.user = Some(u);
    }
    Ok((id, session))
}

/// Issues the code and redirects (the user approved now, or earlier for these scopes).
async fn approve<S: Store>(
    inner: &Inner<S>,
    token: &str,
    p: &PendingRequest,
    user: UserId,
    now: u64,
) -> Result<Response, Error> {
    let code = random_token();
    match inner.store.approve_pending(token, user, &code, now).await {
        Ok(_) => {}
        Err(StoreError::NotFound | StoreError::Expired { .. } | StoreError::Conflict) => {
            return Err(Error::page(
                StatusCode::BAD_REQUEST,
                "This authorization request has expired or was already decided.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let scopes: Vec<&str> = p.request.scope.split_whitespace().collect();
    if !scopes.is_empty() {
        inner
            .store
            .grant_consent(
                user,
                &p.request.agent_id,
                &p.request.resource_id,
                &scopes,
                now,
            )
            .await?;
    }
    let to = redirect_with(
        &p.request.redirect_uri,
        &[("code", &code)],
        p.request.state.as_deref(),
    );
    see_other(&to, None)
}

/// `GET /agent/auth?request_token=…&redirect_uri=…`: the login page, or the consent page
/// when the session is logged in. A returning session (not one that has just logged in)
/// whose user already consented to these scopes for this agent and resource is sent
/// straight back with a code.
pub(crate) async fn get_auth<S: Store>(
    State(issuer): State<Issuer<S>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let inner = &*issuer.inner;
    let now = inner.now().as_secs();
    let q = parse_pairs(query.unwrap_or_default().as_bytes())?;
    let token = get(&q, "request_token");
    let p = pending(inner, token, get(&q, "redirect_uri"), now).await?;
    let token = token.unwrap_or_default();
    let existing = match session_id(&headers) {
        Some(id) => inner.store.session(&id, now).await?.map(|s| (id, s)),
        None => None,
    };
    let (cookie, session) = match existing {
        Some((_, s)) => (None, s),
        None => {
            let (id, s) = new_session(inner, None, now).await?;
            (set_cookie(inner, &id), s)
        }
    };
    let Some(user) = session.user else {
        let page = pages::login_page(&view(inner, &p, token, &session), None);
        return Ok(html(StatusCode::OK, page, cookie, &p.request.redirect_uri));
    };
    let just_logged_in = get(&q, "login").is_some();
    let scopes: Vec<&str> = p.request.scope.split_whitespace().collect();
    if !just_logged_in
        && !scopes.is_empty()
        && inner
            .store
            .has_consent(user, &p.request.agent_id, &p.request.resource_id, &scopes)
            .await?
    {
        return approve(inner, token, &p, user, now).await;
    }
    let name = inner
        .store
        .user_by_id(user)
        .await?
        .map_or_else(|| user.to_string(), |u| u.name);
    let page = pages::consent_page(&view(inner, &p, token, &session), &name);
    Ok(html(StatusCode::OK, page, cookie, &p.request.redirect_uri))
}

/// See the module docs.
fn csrf_ok<S>(
    inner: &Inner<S>,
    form_token: Option<&str>,
    session: &Session,
    h: &HeaderMap,
) -> bool {
    let origin = inner.config.origin();
    let origin_ok = h
        .get(header::ORIGIN)
        .is_none_or(|o| o.as_bytes() == origin.as_bytes());
    if !origin_ok {
        return false;
    }
    match form_token {
        Some(t) => constant_time_eq(t.as_bytes(), session.csrf_token.as_bytes()),
        None => h.get(header::REFERER).is_none_or(|r| {
            r.to_str().is_ok_and(|r| {
                r.strip_prefix(origin.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        }),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /agent/auth`: `action=login` (+ `username`, `password`) or `consent=grant|deny`.
pub(crate) async fn post_auth<S: Store>(
    State(issuer): State<Issuer<S>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let inner = &*issuer.inner;
    let now = inner.now().as_secs();
    let body = body.map_err(|_| Error::page(StatusCode::BAD_REQUEST, "Invalid request body"))?;
    let form = parse_pairs(&body)?;
    let token = get(&form, "request_token");
    let p = pending(inner, token, get(&form, "redirect_uri"), now).await?;
    let token = token.unwrap_or_default();
    let expired = || {
        Error::page(
            StatusCode::BAD_REQUEST,
            "Your session has expired. Open the authorization link again.",
        )
    };
    let sid = session_id(&headers).ok_or_else(expired)?;
    let session = inner.store.session(&sid, now).await?.ok_or_else(expired)?;
    if !csrf_ok(inner, get(&form, "csrf_token"), &session, &headers) {
        return Err(Error::page(
            StatusCode::FORBIDDEN,
            "The form could not be verified (cross-site request refused).",
        ));
    }
    let (user, pw) = (get(&form, "username"), get(&form, "password"));
    if get(&form, "action") == Some("login") || (user.is_some() && pw.is_some()) {
        let (user, pw) = (user.unwrap_or_default(), pw.unwrap_or_default());
        // Longer names are refused below without a hash; leaving them uncounted keeps the
        // throttle's keys short.
        let counted = user.len() <= MAX_USERNAME;
        // Before the password: a locked name costs no Argon2 run.
        if counted && let Err(locked) = inner.login_throttle.admit(user, now) {
            return Ok(locked_out(inner, &p, token, &session, locked));
        }
        let found = if counted && pw.len() <= MAX_PASSWORD {
            inner.store.verify_password(user, pw).await?
        } else {
            None
        };
        let Some(found) = found else {
            // This failure may be the one that starts a lockout: say so now.
            if let Some(locked) = inner.login_throttle.locked_out(user, now) {
                return Ok(locked_out(inner, &p, token, &session, locked));
            }
            return Ok(login_again(
                inner,
                &p,
                token,
                &session,
                StatusCode::UNAUTHORIZED,
                "Invalid username or password",
            ));
        };
        inner.login_throttle.succeeded(user);
        // A fresh session for the logged-in user (session fixation).
        let (id, _) = new_session(inner, Some(found.id), now).await?;
        inner.store.delete_session(&sid).await?;
        let back = format!(
            "{}?{}",
            inner.config.url("/agent/auth"),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("request_token", token)
                .append_pair("redirect_uri", &p.request.redirect_uri)
                .append_pair("login", "1")
                .finish()
        );
        return see_other(&back, set_cookie(inner, &id));
    }
    match get(&form, "consent") {
        Some(decision) => {
            let Some(user) = session.user else {
                return Ok(login_again(
                    inner,
                    &p,
                    token,
                    &session,
                    StatusCode::UNAUTHORIZED,
                    "Please sign in first",
                ));
            };
            if decision == "grant" {
                return approve(inner, token, &p, user, now).await;
            }
            match inner.store.deny_pending(token, now).await {
                Ok(_) => {}
                Err(StoreError::NotFound | StoreError::Expired { .. } | StoreError::Conflict) => {
                    return Err(Error::page(
                        StatusCode::BAD_REQUEST,
                        "This authorization request has expired or was already decided.",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            let to = redirect_with(
                &p.request.redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "User denied consent"),
                ],
                p.request.state.as_deref(),
            );
            see_other(&to, None)
        }
        None => Err(Error::page(StatusCode::BAD_REQUEST, "Invalid request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_form_action_allows_the_redirect_origin_only() {
        let v = |u: &str| csp(u).to_str().unwrap().to_owned();
        assert!(
            v("http://127.0.0.1:8001/callback?x=1")
                .ends_with("form-action 'self' http://127.0.0.1:8001")
        );
        assert!(
            v("https://agent.example/cb").ends_with("form-action 'self' https://agent.example")
        );
        // Nothing but the origin is copied: no path, and no way to add a directive.
        assert!(v("https://a;script-src*.example/cb").ends_with("form-action 'self'"));
        assert!(v("javascript:alert(1)").ends_with("form-action 'self'"));
        assert!(v("not a url").ends_with("form-action 'self'"));
    }

    #[test]
    fn redirects_append_to_existing_queries() {
        assert_eq!(
            redirect_with("https://a.example/cb", &[("code", "x")], None),
            "https://a.example/cb?code=x"
        );
        assert_eq!(
            redirect_with(
                "https://a.example/cb?s=1",
                &[
                    ("error", "access_denied"),
                    ("error_description", "User denied consent")
                ],
                Some("a&b")
            ),
            "https://a.example/cb?s=1&error=access_denied&error_description=User+denied+consent&state=a%26b"
        );
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; aauth_session=abc; b=2"),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
