//! Server-rendered HTML of the login and consent pages. Every interpolated value goes
//! through [`escape`].

use std::fmt::Write as _;

/// What the pages show about the request.
pub(crate) struct RequestView<'a> {
    pub(crate) app_name: &'a str,
    pub(crate) agent: &'a str,
    pub(crate) agent_delegate: Option<&'a str>,
    pub(crate) resource: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) request_token: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) csrf_token: &'a str,
}

/// HTML-escapes text for element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
background:#f3f5f9;color:#1f2933;display:flex;min-height:100vh;align-items:center;\
justify-content:center;padding:24px}\
.card{background:#fff;max-width:440px;width:100%;border-radius:12px;\
box-shadow:0 10px 30px rgba(15,23,42,.08),0 1px 3px rgba(15,23,42,.06);overflow:hidden}\
.head{background:#1e3a8a;color:#fff;padding:18px 24px;font-weight:600;letter-spacing:.2px}\
.body{padding:24px}\
h1{font-size:20px;margin:0 0 12px}\
.who{background:#f8fafc;border:1px solid #e2e8f0;border-radius:8px;padding:12px 14px;margin:0 0 16px}\
.who dt{font-size:12px;text-transform:uppercase;color:#64748b;letter-spacing:.5px}\
.who dd{margin:0 0 8px;word-break:break-all;font-family:ui-monospace,Menlo,monospace;font-size:13px}\
.who dd:last-child{margin-bottom:0}\
ul.scopes{list-style:none;padding:0;margin:0 0 20px}\
ul.scopes li{padding:8px 12px;border:1px solid #e2e8f0;border-radius:8px;margin-bottom:6px}\
ul.scopes code{font-weight:600;color:#1e3a8a}\
ul.scopes span{display:block;color:#64748b;font-size:13px}\
label{display:block;font-size:13px;font-weight:600;margin:0 0 4px}\
input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #cbd5e1;\
border-radius:8px;font:inherit;margin:0 0 14px}\
input:focus{outline:2px solid #93c5fd;border-color:#3b82f6}\
.actions{display:flex;gap:10px}\
button{flex:1;padding:10px 14px;border-radius:8px;font:inherit;font-weight:600;cursor:pointer;border:1px solid transparent}\
.primary{background:#1d4ed8;color:#fff}.primary:hover{background:#1e40af}\
.secondary{background:#fff;color:#334155;border-color:#cbd5e1}.secondary:hover{background:#f1f5f9}\
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:10px 12px;margin:0 0 16px}\
.muted{color:#64748b;font-size:13px;margin:16px 0 0}";

fn layout(app_name: &str, title: &str, content: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <title>{title} · {app}</title><style>{STYLE}</style></head><body>\
         <main class=\"card\"><div class=\"head\">{app}</div><div class=\"body\">{content}\
         </div></main></body></html>",
        title = escape(title),
        app = escape(app_name),
    )
}

fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Confirm your identity",
        "profile" => "Your name and basic profile",
        "email" => "Your email address",
        s if s.starts_with("user.") => "Information from your account",
        s if s.ends_with(".read") => "Read access",
        s if s.ends_with(".write") => "Write access",
        _ => "Access on your behalf",
    }
}

fn who(v: &RequestView<'_>) -> String {
    let mut s = String::from("<dl class=\"who\"><dt>Agent</dt>");
    let _ = write!(s, "<dd>{}</dd>", escape(v.agent));
    if let Some(d) = v.agent_delegate {
        let _ = write!(s, "<dt>Agent instance</dt><dd>{}</dd>", escape(d));
    }
    let _ = write!(s, "<dt>Resource</dt><dd>{}</dd></dl>", escape(v.resource));
    s
}

fn hidden(v: &RequestView<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"request_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        escape(v.request_token),
        escape(v.redirect_uri),
        escape(v.csrf_token)
    )
}

/// The login form (`action=login`, `username`, `password`).
pub(crate) fn login_page(v: &RequestView<'_>, error: Option<&str>) -> String {
    let mut c = String::from("<h1>Sign in to continue</h1>");
    if let Some(e) = error {
        let _ = write!(c, "<div class=\"error\" role=\"alert\">{}</div>", escape(e));
    }
    c.push_str("<p>An application is asking for access on your behalf.</p>");
    c.push_str(&who(v));
    let _ = write!(
        c,
        "<form method=\"POST\" action=\"/agent/auth\">{}\
         <input type=\"hidden\" name=\"action\" value=\"login\">\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <div class=\"actions\"><button class=\"primary\" type=\"submit\">Sign in</button></div></form>",
        hidden(v)
    );
    layout(v.app_name, "Sign in", &c)
}

/// The consent form (`consent=grant|deny`).
pub(crate) fn consent_page(v: &RequestView<'_>, user: &str) -> String {
    let mut c = String::from("<h1>Authorize access</h1>");
    let _ = write!(
        c,
        "<p>Signed in as <strong>{}</strong>. The agent below asks for the following access \
         to the resource.</p>",
        escape(user)
    );
    c.push_str(&who(v));
    c.push_str("<ul class=\"scopes\">");
    let mut any = false;
    for s in v.scope.split_whitespace() {
        any = true;
        let _ = write!(
            c,
            "<li><code>{}</code><span>{}</span></li>",
            escape(s),
            describe(s)
        );
    }
    if !any {
        c.push_str("<li><code>(no specific scope)</code><span>Basic access</span></li>");
    }
    c.push_str("</ul>");
    let _ = write!(
        c,
        "<form method=\"POST\" action=\"/agent/auth\">{}<div class=\"actions\">\
         <button class=\"secondary\" type=\"submit\" name=\"consent\" value=\"deny\">Deny</button>\
         <button class=\"primary\" type=\"submit\" name=\"consent\" value=\"grant\">Approve</button>\
         </div></form><p class=\"muted\">You will be sent back to {}.</p>",
        hidden(v),
        escape(v.redirect_uri)
    );
    layout(v.app_name, "Authorize access", &c)
}

/// A plain error page.
pub(crate) fn error_page(msg: &str) -> String {
    layout(
        "AAuth",
        "Error",
        &format!(
            "<h1>Something went wrong</h1><div class=\"error\" role=\"alert\">{}</div>\
             <p class=\"muted\">Return to the application and start again.</p>",
            escape(msg)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_rendered_is_escaped() {
        let evil = "<script>alert('x')</script>\"&";
        let v = RequestView {
            app_name: evil,
            agent: evil,
            agent_delegate: Some(evil),
            resource: evil,
            scope: "a<b",
            request_token: evil,
            redirect_uri: evil,
            csrf_token: evil,
        };
        for page in [
            login_page(&v, Some(evil)),
            consent_page(&v, evil),
            error_page(evil),
        ] {
            assert!(!page.contains("<script>"), "{page}");
            assert!(!page.contains("'x'"));
            assert!(page.contains("&lt;script&gt;"));
        }
    }
}
