//! The subset of RFC 8941 structured fields the protocol uses: dictionaries whose members
//! are items or inner lists, with parameters; bare items of type integer, string, token,
//! byte sequence and boolean. Decimals are parsed as tokens are not: they are refused.
//!
//! The parser is strict (RFC 8941 §4.2) with one deliberate leniency: byte sequences are
//! returned as their raw text so callers decide which base64 alphabet to accept (the
//! reference writes `Signature` values in base64url, digest §2.11 D2).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A bare item (RFC 8941 §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BareItem<'a> {
    /// `?1` / `?0`.
    Boolean(bool),
    /// The text between the colons of `:…:`, not yet decoded.
    ByteSequence(&'a str),
    /// An integer of at most 15 digits.
    Integer(i64),
    /// A string, unescaped.
    String(String),
    /// A token.
    Token(&'a str),
}

impl BareItem<'_> {
    /// The string value, if this is a string.
    pub fn as_string(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Parameters in order of appearance (RFC 8941 §3.1.2). Duplicate keys: the last one wins on
/// lookup, as the RFC requires.
pub type Parameters<'a> = Vec<(&'a str, BareItem<'a>)>;

/// Looks a parameter up; the last occurrence wins (RFC 8941 §4.2.3.2).
pub fn param<'p, 'a>(params: &'p Parameters<'a>, key: &str) -> Option<&'p BareItem<'a>> {
    params.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// An item or inner list with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// A bare item with parameters.
    Item(BareItem<'a>, Parameters<'a>),
    /// An inner list of items with parameters, and the list's own parameters.
    InnerList(Vec<(BareItem<'a>, Parameters<'a>)>, Parameters<'a>),
}

/// A parse failure; the structured-field grammar is not reported in more detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SfError;

impl fmt::Display for SfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed structured field")
    }
}

impl core::error::Error for SfError {}

/// Parses a dictionary (RFC 8941 §4.2.2). Members keep their order; a key seen twice keeps
/// its last value in the first key's place, per the RFC.
///
/// # Errors
/// [`SfError`] on any deviation from the grammar.
pub fn parse_dictionary(input: &str) -> Result<Vec<(&str, Member<'_>)>, SfError> {
    let all = parse_dictionary_all(input)?;
    // The usual case, no key repeated, keeps the parsed list (no second allocation).
    if all
        .iter()
        .enumerate()
        .all(|(i, (key, _))| all[..i].iter().all(|(k, _)| k != key))
    {
        return Ok(all);
    }
    let mut out: Vec<(&str, Member<'_>)> = Vec::new();
    for (key, member) in all {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = member,
            None => out.push((key, member)),
        }
    }
    Ok(out)
}

/// Parses a dictionary like [`parse_dictionary`] but keeps every member as written,
/// duplicates included, in linear time. Headers that must hold exactly one member
/// (`Signature-Key`, digest §5.1 L-02) use it so that `sig1=…, sig1=…` is seen as two.
///
/// # Errors
/// [`SfError`] on any deviation from the grammar.
pub fn parse_dictionary_all(input: &str) -> Result<Vec<(&str, Member<'_>)>, SfError> {
    let mut p = Parser::new(input);
    let mut out: Vec<(&str, Member<'_>)> = Vec::new();
    p.skip_sp();
    if p.at_end() {
        return Ok(out);
    }
    loop {
        let key = p.key()?;
        let member = if p.eat(b'=') {
            p.member()?
        } else {
            Member::Item(BareItem::Boolean(true), p.parameters()?)
        };
        out.push((key, member));
        p.skip_ows();
        if p.at_end() {
            return Ok(out);
        }
        if !p.eat(b',') {
            return Err(SfError);
        }
        p.skip_ows();
        if p.at_end() {
            return Err(SfError);
        }
    }
}

/// Parses an item (RFC 8941 §4.2.3).
///
/// # Errors
/// [`SfError`] on any deviation from the grammar.
pub fn parse_item(input: &str) -> Result<(BareItem<'_>, Parameters<'_>), SfError> {
    let mut p = Parser::new(input);
    p.skip_sp();
    let item = p.bare_item()?;
    let params = p.parameters()?;
    p.skip_sp();
    if !p.at_end() {
        return Err(SfError);
    }
    Ok((item, params))
}

/// A cursor over structured-field text, shared with the crate's two header grammars that
/// are not valid RFC 8941 (legacy `Signature-Key`, `Agent-Auth` `algs`).
pub(crate) struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    pub(crate) fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        // One scan over the remaining bytes (no per-byte bounds check or write-back of
        // `pos`): strings and byte sequences here are hundreds of bytes long.
        let rest = self.s.as_bytes().get(start..).unwrap_or_default();
        self.pos += rest.iter().position(|&c| !f(c)).unwrap_or(rest.len());
        &self.s[start..self.pos]
    }

    pub(crate) fn key(&mut self) -> Result<&'a str, SfError> {
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return Err(SfError),
        }
        Ok(self.take_while(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
        }))
    }

    fn member(&mut self) -> Result<Member<'a>, SfError> {
        if self.eat(b'(') {
            // Room for the components a signature usually covers, in one allocation.
            let mut items = Vec::with_capacity(8);
            loop {
                self.skip_sp();
                if self.eat(b')') {
                    return Ok(Member::InnerList(items, self.parameters()?));
                }
                let item = self.bare_item()?;
                let params = self.parameters()?;
                items.push((item, params));
                match self.peek() {
                    Some(b' ' | b')') => {}
                    _ => return Err(SfError),
                }
            }
        }
        let item = self.bare_item()?;
        Ok(Member::Item(item, self.parameters()?))
    }

    fn parameters(&mut self) -> Result<Parameters<'a>, SfError> {
        let mut out = Parameters::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            out.push((key, value));
        }
        Ok(out)
    }

    pub(crate) fn bare_item(&mut self) -> Result<BareItem<'a>, SfError> {
        match self.peek().ok_or(SfError)? {
            b'-' | b'0'..=b'9' => self.integer(),
            b'"' => self.string(),
            b':' => {
                self.pos += 1;
                let body = self.take_while(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_')
                });
                if !self.eat(b':') {
                    return Err(SfError);
                }
                Ok(BareItem::ByteSequence(body))
            }
            b'?' => {
                self.pos += 1;
                match self.peek() {
                    Some(b'1') => {
                        self.pos += 1;
                        Ok(BareItem::Boolean(true))
                    }
                    Some(b'0') => {
                        self.pos += 1;
                        Ok(BareItem::Boolean(false))
                    }
                    _ => Err(SfError),
                }
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                Ok(BareItem::Token(self.take_while(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(
                            c,
                            b'!' | b'#'
                                | b'$'
                                | b'%'
                                | b'&'
                                | b'\''
                                | b'*'
                                | b'+'
                                | b'-'
                                | b'.'
                                | b'^'
                                | b'_'
                                | b'`'
                                | b'|'
                                | b'~'
                                | b':'
                                | b'/'
                        )
                })))
            }
            _ => Err(SfError),
        }
    }

    fn integer(&mut self) -> Result<BareItem<'a>, SfError> {
        let neg = self.eat(b'-');
        let digits = self.take_while(|c| c.is_ascii_digit());
        if digits.is_empty() || digits.len() > 15 || self.peek() == Some(b'.') {
            return Err(SfError);
        }
        let mut v: i64 = 0;
        for d in digits.bytes() {
            v = v * 10 + i64::from(d - b'0');
        }
        Ok(BareItem::Integer(if neg { -v } else { v }))
    }

    fn string(&mut self) -> Result<BareItem<'a>, SfError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            // The run of plain printable characters up to the next quote or backslash is
            // copied at once: a `Signature-Key` `jwt` string is a whole token, hundreds of
            // bytes, and a byte-by-byte push was a visible share of a verification.
            let start = self.pos;
            self.pos += plain_run(self.s.as_bytes().get(start..).unwrap_or_default());
            out.push_str(&self.s[start..self.pos]);
            match self.peek().ok_or(SfError)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(BareItem::String(out));
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(char::from(c));
                            self.pos += 1;
                        }
                        _ => return Err(SfError),
                    }
                }
                // Anything else ended the run: outside printable ASCII (RFC 8941 §4.2.5).
                _ => return Err(SfError),
            }
        }
    }
}

/// Whether `c` stands for itself inside an sf-string: printable ASCII but `"` and `\`.
fn plain(c: u8) -> bool {
    matches!(c, 0x20..=0x7e) && c != b'"' && c != b'\\'
}

/// The length of the leading run of [`plain`] bytes, eight at a time while no byte in the
/// word can end it (a `Signature-Key` `jwt` string is a whole token, hundreds of bytes, and
/// this scan runs on every request).
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero if some byte of `x` is below `n` (n <= 0x80) or equals `c` (bit-twiddling
    // "hasless"/"haszero"); a false alarm only sends that word to the byte loop.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let equal = |x: u64, c: u8| below(x ^ (ONES * u64::from(c)), 1);
    let mut done = 0;
    for w in b.chunks_exact(8) {
        let mut word = [0; 8];
        word.copy_from_slice(w);
        let x = u64::from_ne_bytes(word);
        if (x & HIGH) | below(x, 0x20) | equal(x, 0x7f) | equal(x, b'"') | equal(x, b'\\') != 0 {
            break;
        }
        done += 8;
    }
    let rest = &b[done..];
    done + rest.iter().position(|&c| !plain(c)).unwrap_or(rest.len())
}

/// Writes `s` as an RFC 8941 string (quoted, `"` and `\` escaped).
///
/// # Errors
/// [`SfError`] when `s` holds characters outside printable ASCII.
pub fn write_string(out: &mut String, s: &str) -> Result<(), SfError> {
    if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(SfError);
    }
    out.push('"');
    // Runs between escapes are copied at once (this runs for every verified request).
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| b == b'"' || b == b'\\') {
        let (run, tail) = rest.split_at(i);
        out.push_str(run);
        out.push('\\');
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out.push('"');
    Ok(())
}

/// True when `s` is a valid RFC 8941 key (labels, parameter names).
pub fn is_key(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0] == b'*')
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
        })
}

/// Writes an integer.
pub fn write_integer(out: &mut String, v: i64) {
    // Digits by hand: `write!` goes through the formatting machinery, a visible cost for
    // the `created` of every verified request.
    if v < 0 {
        out.push('-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + u8::try_from(n % 10).unwrap_or_default();
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time scan stops exactly where a byte-by-byte one does.
    #[test]
    fn plain_run_matches_the_byte_scan() {
        let specials = [0x00, 0x1f, 0x20, b'"', b'\\', 0x7e, 0x7f, 0x80, 0xff, b'a'];
        for len in 0..40 {
            for at in 0..len {
                for &c in &specials {
                    let mut b = alloc::vec![b'x'; len];
                    b[at] = c;
                    let expect = b.iter().position(|&c| !plain(c)).unwrap_or(len);
                    assert_eq!(plain_run(&b), expect, "len {len}, {c:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn dictionary_with_inner_list_and_params() {
        let d = parse_dictionary(r#"sig1=("@method" "@path");created=1768785919;keyid="k\"1""#)
            .unwrap();
        assert_eq!(d.len(), 1);
        let Member::InnerList(items, params) = &d[0].1 else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            param(params, "created"),
            Some(&BareItem::Integer(1_768_785_919))
        );
        assert_eq!(param(params, "keyid").unwrap().as_string(), Some("k\"1"));
    }

    #[test]
    fn items_and_booleans() {
        let (item, params) = parse_item(r#"httpsig; identity=?1; auth-token; x="y""#).unwrap();
        assert_eq!(item, BareItem::Token("httpsig"));
        assert_eq!(param(&params, "auth-token"), Some(&BareItem::Boolean(true)));
        assert_eq!(param(&params, "identity"), Some(&BareItem::Boolean(true)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "sig1=(",
            "sig1=(\"a\"",
            "Sig1=1",
            "a=1,",
            "a=1 b=2",
            "a=\"\u{7f}\"",
            "a=1.5",
            "a=1234567890123456",
            "a=:abc",
            "a=?2",
            "a=\"\\x\"",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let d = parse_dictionary("a=1, b=2, a=3").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], ("a", Member::Item(BareItem::Integer(3), Vec::new())));
    }

    #[test]
    fn string_round_trip() {
        let mut s = String::new();
        write_string(&mut s, r#"a"b\c"#).unwrap();
        assert_eq!(s, r#""a\"b\\c""#);
        let (item, _) = parse_item(&s).unwrap();
        assert_eq!(item.as_string(), Some(r#"a"b\c"#));
        assert!(write_string(&mut s, "é").is_err());
        // Escapes at either end, runs between them, the empty string.
        for v in ["", r#"""#, r#"\"#, r#"ab"cd\ef""#, "plain text"] {
            let mut s = String::new();
            write_string(&mut s, v).unwrap();
            let (item, _) = parse_item(&s).unwrap();
            assert_eq!(item.as_string(), Some(v), "{s}");
        }
        // Unterminated, or a backslash as the last character.
        for bad in ["\"abc", "\"abc\\", "\"\\\"", "\"a\u{1}b\""] {
            assert!(parse_item(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_written_as_parsed() {
        for v in [
            0,
            7,
            -7,
            10,
            1_768_785_919,
            999_999_999_999_999,
            -999_999_999_999_999,
        ] {
            let mut s = String::new();
            write_integer(&mut s, v);
            assert_eq!(s, alloc::format!("{v}"));
            assert_eq!(parse_item(&s).unwrap().0, BareItem::Integer(v));
        }
        let mut s = String::new();
        write_integer(&mut s, i64::MIN);
        assert_eq!(s, "-9223372036854775808");
    }
}
