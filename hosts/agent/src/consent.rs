//! User consent (digest §2.8 (d)): the hook the client calls when the auth server answers
//! with a `request_token`, and two implementations.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Client, StatusCode, Url};

use crate::server::CallbackRegistry;

/// What the consent hook is asked to do: send the user to [`url`](Self::url), and return
/// the authorization code the auth server redirects back with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentRequest {
    /// `{agent_auth_endpoint}?request_token=…&redirect_uri=…`: where the user goes.
    pub url: String,
    /// The opaque request token from the auth server.
    pub request_token: String,
    /// The redirect URI the code will be delivered to.
    pub redirect_uri: String,
    /// The auth server's identifier.
    pub auth_server: String,
}

impl ConsentRequest {
    /// A consent request for `request_token` at `url`.
    pub fn new(
        url: impl Into<String>,
        request_token: impl Into<String>,
        redirect_uri: impl Into<String>,
        auth_server: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            request_token: request_token.into(),
            redirect_uri: redirect_uri.into(),
            auth_server: auth_server.into(),
        }
    }
}

/// Consent ended without a code: the OAuth `error` (`access_denied`, …) from the callback,
/// or a local failure (`consent_failed`, `timeout`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentError {
    /// The error code.
    pub error: String,
    /// A human-readable description, if any.
    pub error_description: Option<String>,
}

impl ConsentError {
    /// An error with a code and a description.
    pub fn new(error: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            error_description: Some(description.into()),
        }
    }
}

impl fmt::Display for ConsentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        match &self.error_description {
            Some(d) => write!(f, ": {d}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ConsentError {}

/// The future a [`ConsentHook`] returns: the authorization `code`, or why there is none.
pub type ConsentFuture<'a> =
    Pin<Box<dyn Future<Output = Result<String, ConsentError>> + Send + 'a>>;

/// Obtains user consent for a pending authorization and returns the authorization code.
///
/// The client calls it while it holds the acquisition for the resource, so concurrent
/// requests to the same resource wait for one consent. Closures
/// `Fn(ConsentRequest) -> impl Future<Output = Result<String, ConsentError>>` implement it.
pub trait ConsentHook: Send + Sync {
    /// Runs consent for `request`.
    fn authorize<'a>(&'a self, request: &'a ConsentRequest) -> ConsentFuture<'a>;
}

impl<F, Fut> ConsentHook for F
where
    F: Fn(ConsentRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, ConsentError>> + Send + 'static,
{
    fn authorize<'a>(&'a self, request: &'a ConsentRequest) -> ConsentFuture<'a> {
        Box::pin(self(request.clone()))
    }
}

/// Completes the reference-style HTML consent over HTTP, as a scripted user would: GET the
/// consent URL, POST `action=login` with the credentials, POST `consent=grant`, and read
/// `code` (or `error`) from the `303` `Location`. For tests and demos against the Python
/// reference auth server (`/agent/auth`) and servers with the same form fields.
///
/// ```no_run
/// use aauth_agent::FormConsent;
/// let consent = FormConsent::new("testuser", "testpass");
/// ```
#[derive(Clone)]
pub struct FormConsent {
    username: String,
    password: String,
    grant: bool,
}

impl fmt::Debug for FormConsent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormConsent")
            .field("username", &self.username)
            .field("password", &"[elided]")
            .field("grant", &self.grant)
            .finish()
    }
}

impl FormConsent {
    /// Logs in as `username` / `password` and grants consent.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            grant: true,
        }
    }

    /// Denies consent instead of granting it (to test `access_denied`).
    #[must_use]
    pub fn deny(mut self) -> Self {
        self.grant = false;
        self
    }

    async fn run(&self, request: &ConsentRequest) -> Result<String, ConsentError> {
        let failed = |what: &str| ConsentError::new("consent_failed", what);
        let client = Client::builder()
            .tls_backend_preconfigured(crate::tls::config().map_err(|_| failed("TLS setup"))?)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|_| failed("HTTP client setup"))?;
        let page = Url::parse(&request.url).map_err(|_| failed("consent URL does not parse"))?;
        let mut action = page.clone();
        action.set_query(None);
        action.set_fragment(None);

        let resp = client
            .get(page)
            .send()
            .await
            .map_err(|_| failed("GET consent page"))?;
        if resp.status() != StatusCode::OK {
            return Err(failed(&format!("GET consent page: HTTP {}", resp.status())));
        }
        let login = [
            ("request_token", request.request_token.as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("action", "login"),
            ("username", self.username.as_str()),
            ("password", self.password.as_str()),
        ];
        let resp = post_form(&client, &action, &login)
            .await
            .map_err(|_| failed("POST login"))?;
        if resp.status() != StatusCode::SEE_OTHER {
            return Err(ConsentError::new(
                "login_failed",
                format!("login answered HTTP {}", resp.status()),
            ));
        }
        // Follow the login redirect as a browser would: it shows the consent page.
        if let Some(next) = location(&resp, &action) {
            let page = client
                .get(next)
                .send()
                .await
                .map_err(|_| failed("GET consent form"))?;
            if page.status() != StatusCode::OK {
                return Err(failed(&format!("GET consent form: HTTP {}", page.status())));
            }
        }
        let decision = [
            ("request_token", request.request_token.as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("consent", if self.grant { "grant" } else { "deny" }),
        ];
        let resp = post_form(&client, &action, &decision)
            .await
            .map_err(|_| failed("POST consent"))?;
        if resp.status() != StatusCode::SEE_OTHER {
            return Err(failed(&format!("consent answered HTTP {}", resp.status())));
        }
        let back =
            location(&resp, &action).ok_or_else(|| failed("consent redirect without Location"))?;
        code_from_redirect(&back)
    }
}

impl ConsentHook for FormConsent {
    fn authorize<'a>(&'a self, request: &'a ConsentRequest) -> ConsentFuture<'a> {
        Box::pin(self.run(request))
    }
}

async fn post_form(
    client: &Client,
    url: &Url,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response, reqwest::Error> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    client
        .post(url.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
}

fn location(resp: &reqwest::Response, base: &Url) -> Option<Url> {
    let value = resp.headers().get(LOCATION)?.to_str().ok()?;
    base.join(value).ok()
}

/// Reads the authorization response from a redirect URL: `code`, or `error` +
/// `error_description`.
///
/// # Errors
/// The `error` the URL carries, or `invalid_response` when it has neither.
pub fn code_from_redirect(url: &Url) -> Result<String, ConsentError> {
    let mut code = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    match (code, error) {
        (_, Some(error)) => Err(ConsentError {
            error,
            error_description: description,
        }),
        (Some(code), None) if !code.is_empty() => Ok(code),
        _ => Err(ConsentError::new(
            "invalid_response",
            "redirect carries neither code nor error",
        )),
    }
}

/// Consent through the agent server's `/callback`: shows the user the consent URL (through
/// `open`, e.g. print it or launch a browser) and waits until
/// [`CallbackRegistry`] receives the code, up to a timeout.
///
/// The wait is keyed by a random `state` added to the consent URL; a callback without
/// `state` (the reference auth server drops it) goes to the only pending wait.
#[derive(Clone)]
pub struct CallbackConsent {
    registry: CallbackRegistry,
    open: Arc<dyn Fn(&str) + Send + Sync>,
    timeout: Duration,
}

impl fmt::Debug for CallbackConsent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackConsent")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CallbackConsent {
    /// Waits on `registry` (serve it with [`AgentServer::router`](crate::AgentServer::router))
    /// for up to `timeout`, after calling `open` with the consent URL.
    pub fn new(
        registry: CallbackRegistry,
        timeout: Duration,
        open: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            registry,
            open: Arc::new(open),
            timeout,
        }
    }

    async fn run(&self, request: &ConsentRequest) -> Result<String, ConsentError> {
        let state = crate::keys::random_token()
            .map_err(|_| ConsentError::new("consent_failed", "no randomness for state"))?;
        let mut url = Url::parse(&request.url)
            .map_err(|_| ConsentError::new("consent_failed", "consent URL does not parse"))?;
        url.query_pairs_mut().append_pair("state", &state);
        let pending = self.registry.register(state);
        (self.open)(url.as_str());
        pending.wait(self.timeout).await
    }
}

impl ConsentHook for CallbackConsent {
    fn authorize<'a>(&'a self, request: &'a ConsentRequest) -> ConsentFuture<'a> {
        Box::pin(self.run(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_code_and_error() {
        let ok = Url::parse("http://a.test/callback?code=abc").unwrap();
        assert_eq!(code_from_redirect(&ok).unwrap(), "abc");
        let denied = Url::parse(
            "http://a.test/callback?error=access_denied&error_description=User+denied+consent",
        )
        .unwrap();
        let e = code_from_redirect(&denied).unwrap_err();
        assert_eq!(e.to_string(), "access_denied: User denied consent");
        let empty = Url::parse("http://a.test/callback").unwrap();
        assert_eq!(
            code_from_redirect(&empty).unwrap_err().error,
            "invalid_response"
        );
    }

    #[test]
    fn form_consent_debug_hides_password() {
        let s = format!("{:?}", FormConsent::new("u", "hunter2"));
        assert!(!s.contains("hunter2"));
    }
}
