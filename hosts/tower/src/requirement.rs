//! What a route requires of a request, as data: defined in `aauth-http` (shared with the
//! Spin component) and re-exported here.

pub use aauth_http::Requirement;
