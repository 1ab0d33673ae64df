//! `Agent-Auth` parsing never panics, and build(parse(x)) parses to the same value.
#![no_main]

use aauth_core::agent_auth::{AgentAuth, MAX_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = AgentAuth::parse(text) else {
        return;
    };
    // Parsed strings are printable ASCII, so building cannot fail.
    let built = parsed.to_header().expect("parsed value builds");
    if built.len() > MAX_HEADER_LEN {
        return;
    }
    assert_eq!(AgentAuth::parse(&built).as_ref(), Ok(&parsed));
    assert_eq!(parsed.to_header().as_deref(), Ok(built.as_str()));
});
