//! A one-pass reader for the lines nodes commonly print: an envelope of plain strings around
//! a body object, as in
//! `{"src":"n1","dest":"c4","body":{"type":"read_ok","messages":[1,2,3],"in_reply_to":7}}`.
//!
//! Read replies are the costliest lines of a big run: late in a 1,000-node broadcast run each
//! one carries tens of thousands of integers, and the engine needs every reply read before it
//! can go on. `serde_json` reads such a line twice (once to check the envelope and cut out the
//! raw body, once for the body's fields), and each integer goes through a `Value`. This reader
//! walks the line once and puts integers straight into the set they become. A message between
//! nodes is checked in the same single walk, keeping only the body's reserved keys.
//!
//! It reads a strict subset of JSON, and for that subset gives exactly what the general path
//! ([`Preparsed::of_any`]) gives. Strings have no escapes. A field the engine keeps (any field
//! of a reply to a client, a reserved key of any body) is a string, an integer of at most 18
//! digits (not `-0`), `true`, `false`, `null`, or an array of such integers; other fields of a
//! message between nodes may be any JSON without escapes, nested at most [`MAX_DEPTH`] deep.
//! Anything else (an escape, a duplicate or unknown envelope key, a duplicate reserved key,
//! trailing text, a syntax error) makes it answer `None`, and the line goes to `serde_json`,
//! which also words any error.

use serde_json::Value;

use super::{BodyHead, Preparsed, RawBody};
use crate::ids::parse_client_id;
use crate::schema::Body;
use crate::value::{Collector, OpValue};

/// How deep a skipped value may nest here (this reader recurses; deeper goes to `serde_json`).
pub const MAX_DEPTH: usize = 64;

/// The body keys the engine reads from every message.
const RESERVED: [&str; 3] = ["type", "msg_id", "in_reply_to"];

/// A line read in one pass.
#[derive(Debug)]
pub struct FlatLine<'a> {
    /// `src`.
    pub src: &'a str,
    /// `dest`.
    pub dest: &'a str,
    /// The body's text, verbatim.
    pub body: &'a str,
    /// The body's fields: all of them when `dest` is a client (or was not known when the
    /// body was read), otherwise the reserved keys only.
    pub fields: Body,
}

impl FlatLine<'_> {
    /// What [`Preparsed::of_any`] makes of the same line.
    pub fn into_preparsed(self) -> Preparsed {
        let head = BodyHead::of_fields(&self.fields);
        // Fields are kept for a client only, as the general path does.
        let fields = parse_client_id(self.dest).map(|_| self.fields);
        Preparsed {
            envelope: Ok((
                self.src.to_owned(),
                self.dest.to_owned(),
                RawBody::checked(self.body),
            )),
            head,
            fields,
        }
    }
}

/// Reads `line` if it is of the subset above; `None` if not (which says nothing about
/// whether it is valid: ask `serde_json`).
pub fn read(line: &str) -> Option<FlatLine<'_>> {
    let mut c = Cursor { text: line, at: 0 };
    let (mut src, mut dest, mut body) = (None, None, None);
    let mut id_seen = false;
    c.expect(b'{')?;
    loop {
        match c.string()? {
            "src" if src.is_none() => {
                c.expect(b':')?;
                src = Some(c.string()?);
            }
            "dest" if dest.is_none() => {
                c.expect(b':')?;
                dest = Some(c.string()?);
            }
            "body" if body.is_none() => {
                c.expect(b':')?;
                c.skip_space();
                let start = c.at;
                // Between nodes only the reserved keys are kept; the rest is checked.
                let keep_all = dest.is_none_or(|d| parse_client_id(d).is_some());
                let fields = c.body(keep_all)?;
                body = Some((line.get(start..c.at)?, fields, keep_all));
            }
            // `id` is an optional integer (or null); the network numbers lines itself.
            "id" if !id_seen => {
                id_seen = true;
                c.expect(b':')?;
                match c.peek()? {
                    b'n' => c.literal("null")?,
                    _ => {
                        c.integer()?;
                    }
                }
            }
            _ => return None,
        }
        match c.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    c.skip_space();
    if c.at != line.len() {
        return None;
    }
    let (src, dest, (body, fields, keep_all)) = (src?, dest?, body?);
    // A client's reply read before its `dest` is known was kept whole; nothing else was.
    if parse_client_id(dest).is_some() && !keep_all {
        return None;
    }
    Some(FlatLine {
        src,
        dest,
        body,
        fields,
    })
}

/// A position in the text being read.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.at).copied()
    }

    /// The next byte after whitespace, consumed.
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.skip_space();
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match *self.bytes().get(self.at)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let s = self.text.get(start..self.at)?;
        self.at += 1;
        Some(s)
    }

    /// Where the run of digits from `from` ends.
    fn digits_end(&self, from: usize) -> usize {
        let b = self.bytes();
        let mut end = from;
        while let Some(b'0'..=b'9') = b.get(end) {
            end += 1;
        }
        end
    }

    /// Digits of a JSON number's integer part (`0`, or no leading zero), up to their end.
    fn integer_digits(&mut self) -> Option<(usize, usize)> {
        let start = self.at;
        let end = self.digits_end(start);
        let b = self.bytes();
        if end == start || (end - start > 1 && b[start] == b'0') {
            return None;
        }
        self.at = end;
        Some((start, end))
    }

    /// An integer of at most 18 digits (so it fits an `i64` either way), not `-0`, and not the
    /// start of a float.
    fn integer(&mut self) -> Option<i64> {
        self.skip_space();
        let negative = self.bytes().get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let (start, end) = self.integer_digits()?;
        let b = self.bytes();
        if end - start > 18 || matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = b[start..end]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        if negative && value == 0 {
            return None;
        }
        Some(if negative { -value } else { value })
    }

    /// Any JSON number, checked and passed over.
    fn skip_number(&mut self) -> Option<()> {
        if self.bytes().get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        self.integer_digits()?;
        if self.bytes().get(self.at) == Some(&b'.') {
            let end = self.digits_end(self.at + 1);
            if end == self.at + 1 {
                return None;
            }
            self.at = end;
        }
        if let Some(b'e' | b'E') = self.bytes().get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes().get(self.at) {
                self.at += 1;
            }
            let end = self.digits_end(self.at);
            if end == self.at {
                return None;
            }
            self.at = end;
        }
        Some(())
    }

    /// Any JSON value without escapes, checked and passed over.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            open @ (b'[' | b'{') => {
                let close = if open == b'[' { b']' } else { b'}' };
                self.at += 1;
                if self.peek()? == close {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    match self.next()? {
                        b',' => {}
                        b if b == close => return Some(()),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// An array of integers, as the set (or array) it reads as.
    fn integers(&mut self) -> Option<OpValue> {
        self.expect(b'[')?;
        let mut set = Collector::default();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(set.finish());
        }
        let b = self.bytes();
        // The text of the integer after the last one read, while that is not negative.
        let mut successor: Option<Successor> = None;
        // Consecutive integers matched that way and not yet in `set`: they go in as a range.
        let mut run: Option<(i64, i64)> = None;
        loop {
            // A sorted set's array is mostly runs of consecutive integers: the next one's
            // text is compared with the line, with no digits to add up.
            if let Some(s) = successor.as_mut()
                && let Some(c) = s.matches(b, self.at)
            {
                run = Some((run.map_or(s.value, |(lo, _)| lo), s.value));
                self.at += s.len + 1;
                if c == b']' {
                    if let Some((lo, hi)) = run {
                        set.push_run(lo, hi);
                    }
                    return Some(set.finish());
                }
                if !s.advance() {
                    successor = None;
                }
                continue;
            }
            // Otherwise the digits are added up; `,` or `]` straight after is the usual case.
            let value = self.integer()?;
            let next = match b.get(self.at) {
                Some(&c @ (b',' | b']')) => {
                    self.at += 1;
                    c
                }
                _ => self.next()?,
            };
            if let Some((lo, hi)) = run.take() {
                set.push_run(lo, hi);
            }
            set.push(value);
            match next {
                b',' => successor = Successor::after(value),
                b']' => return Some(set.finish()),
                _ => return None,
            }
        }
    }

    /// A field value the engine keeps.
    fn field(&mut self) -> Option<OpValue> {
        Some(match self.peek()? {
            b'"' => OpValue::Json(Value::String(self.string()?.to_owned())),
            b'-' | b'0'..=b'9' => OpValue::Json(Value::from(self.integer()?)),
            b'[' => self.integers()?,
            b't' => self
                .literal("true")
                .map(|()| OpValue::Json(Value::Bool(true)))?,
            b'f' => self
                .literal("false")
                .map(|()| OpValue::Json(Value::Bool(false)))?,
            b'n' => self.literal("null").map(|()| OpValue::NULL)?,
            _ => return None,
        })
    }

    /// A body object: its fields (all of them, or only the reserved keys).
    fn body(&mut self, keep_all: bool) -> Option<Body> {
        self.expect(b'{')?;
        let mut fields = Body::new();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(fields);
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            if keep_all || RESERVED.contains(&key) {
                if fields.insert(key.to_owned(), self.field()?).is_some() {
                    return None;
                }
            } else {
                self.skip_value(1)?;
            }
            match self.next()? {
                b',' => {}
                b'}' => return Some(fields),
                _ => return None,
            }
        }
    }
}

/// The decimal text of a non-negative integer of at most 8 digits, kept in step as the
/// integer counts up, as one word: eight bytes of the line are compared with it at once.
struct Successor {
    value: i64,
    /// The digits, in the order they appear in text, from the lowest byte up.
    word: u64,
    len: usize,
}

impl Successor {
    /// The integer after `value`, if that is not negative and has at most 8 digits.
    fn after(value: i64) -> Option<Successor> {
        let value = value
            .checked_add(1)
            .filter(|v| (0..=MAX_WORD).contains(v))?;
        let mut s = Successor {
            value,
            word: 0,
            len: 0,
        };
        let mut rest = value;
        loop {
            // Digits are found last first: each goes in front of (a byte below) the others.
            s.word = (s.word << 8) | u64::from(b'0' + (rest % 10) as u8);
            s.len += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Some(s)
    }

    /// The byte after this integer's text if `b` has the text at `at`, followed by `,` or `]`.
    fn matches(&self, b: &[u8], at: usize) -> Option<u8> {
        let window: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        let mask = u64::MAX >> (8 * (8 - self.len));
        let c = *b.get(at + self.len)?;
        (u64::from_le_bytes(window) & mask == self.word && (c == b',' || c == b']')).then_some(c)
    }

    /// On to the next integer: a decimal increment, carrying. `false` (and no change) past
    /// 8 digits.
    fn advance(&mut self) -> bool {
        if self.value >= MAX_WORD {
            return false;
        }
        self.value += 1;
        // Byte `i` holds the `i`-th digit of the text; the last digit counts first.
        let mut i = self.len;
        loop {
            i -= 1;
            let shift = 8 * i;
            let digit = (self.word >> shift) & 0xff;
            if digit < u64::from(b'9') {
                self.word += 1 << shift;
                return true;
            }
            // A nine: it becomes a zero, and the carry moves left.
            self.word -= 9 << shift;
            if i == 0 {
                // All nines: a one in front, every digit shifted right by a byte.
                self.word = (self.word << 8) | u64::from(b'1');
                self.len += 1;
                return true;
            }
        }
    }

    #[cfg(test)]
    fn text(&self) -> Vec<u8> {
        self.word.to_le_bytes()[..self.len].to_vec()
    }
}

/// The largest integer with at most 8 digits.
const MAX_WORD: i64 = 99_999_999;

#[cfg(test)]
mod tests;
