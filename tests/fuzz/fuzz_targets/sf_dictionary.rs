//! Structured-field parsing never panics; the merged dictionary agrees with the
//! duplicate-keeping one (last value wins, first position kept); strings round-trip.
#![no_main]

use aauth_core::sf::{self, BareItem, Member};
use libfuzzer_sys::fuzz_target;

fn check_strings<'b, 'a: 'b>(items: impl Iterator<Item = &'b BareItem<'a>>) {
    for item in items {
        if let BareItem::String(s) = item {
            let mut out = String::new();
            sf::write_string(&mut out, s).expect("parsed strings are printable ASCII");
            let (again, params) = sf::parse_item(&out).expect("written string parses");
            assert_eq!(again.as_string(), Some(s.as_str()));
            assert!(params.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if text.len() > 4096 {
        return; // parse_dictionary merges duplicates in quadratic time
    }
    if let Ok((item, params)) = sf::parse_item(text) {
        check_strings(core::iter::once(&item).chain(params.iter().map(|(_, v)| v)));
    }
    let all = sf::parse_dictionary_all(text);
    let merged = sf::parse_dictionary(text);
    assert_eq!(all.is_ok(), merged.is_ok());
    let (Ok(all), Ok(merged)) = (all, merged) else {
        return;
    };
    // Merged keys are the distinct keys of `all`, in order of first appearance.
    let mut firsts: Vec<&str> = Vec::new();
    for (k, _) in &all {
        if !firsts.contains(k) {
            firsts.push(k);
        }
    }
    assert!(firsts.iter().copied().eq(merged.iter().map(|(k, _)| *k)));
    for (key, member) in &merged {
        assert!(sf::is_key(key));
        let last = all.iter().rev().find(|(k, _)| k == key).map(|(_, m)| m);
        assert_eq!(last, Some(member));
        match member {
            Member::Item(item, params) => {
                check_strings(core::iter::once(item).chain(params.iter().map(|(_, v)| v)));
            }
            Member::InnerList(items, params) => {
                check_strings(items.iter().map(|(i, _)| i));
                check_strings(params.iter().map(|(_, v)| v));
            }
        }
    }
});
