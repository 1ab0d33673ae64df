//! `application/x-www-form-urlencoded` bodies (the token endpoint's form, the consent
//! page's query and form): never panics; a body that parses re-encodes to one that parses
//! to the same pairs; `Duplicate` only when a decoded name repeats.
#![no_main]

use aauth_core::form::{FormError, MAX_PAIRS, parse, parse_unique};
use libfuzzer_sys::fuzz_target;

fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let all: Vec<(String, String)> = parse(data).collect();
    match parse_unique(data) {
        Ok(pairs) => {
            assert_eq!(pairs, all);
            let mut body = String::new();
            for (n, v) in &pairs {
                if !body.is_empty() {
                    body.push('&');
                }
                encode(n, &mut body);
                body.push('=');
                encode(v, &mut body);
            }
            // An empty name with an empty value encodes to "=", which parses back the same.
            assert_eq!(parse_unique(body.as_bytes()), Ok(pairs));
        }
        Err(FormError::Duplicate) => {
            let names: Vec<&String> = all.iter().map(|(n, _)| n).collect();
            let repeated = names.iter().enumerate().any(|(i, n)| names[..i].contains(n));
            assert!(repeated);
        }
        Err(FormError::TooMany) => assert!(all.len() > MAX_PAIRS),
        Err(_) => unreachable!("no other errors"),
    }
});
