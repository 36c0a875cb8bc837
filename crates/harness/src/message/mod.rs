//! The wire envelope: parsing what nodes print, and formatting what they are sent.
//!
//! Node output is validated against Maelstrom's closed envelope schema (`src`, `dest`, `body`,
//! optional integer `id`, nothing else). The body is kept as raw JSON text so routing a
//! node-to-node message never re-serialises it; only the few reserved body keys (`type`,
//! `msg_id`, `in_reply_to`) are read, for the journal, the clients and the diagram.

mod line_reader;

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ids::{Endpoint, MsgId, NetId};

/// The reserved keys of a body, as far as they are present and well-typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyHead {
    /// `type`, when it is a string.
    pub kind: Option<String>,
    /// `msg_id`, when it is a non-negative integer.
    pub msg_id: Option<MsgId>,
    /// `in_reply_to`, when it is a non-negative integer.
    pub in_reply_to: Option<MsgId>,
}

impl BodyHead {
    /// Read the reserved keys from a raw body (anything that is not an object has none).
    pub fn parse(body: &RawBody) -> BodyHead {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "type")]
            kind: Option<Value>,
            msg_id: Option<Value>,
            in_reply_to: Option<Value>,
        }
        match serde_json::from_str::<Wire>(body.get()) {
            Ok(w) => BodyHead {
                kind: w.kind.and_then(|v| v.as_str().map(str::to_owned)),
                msg_id: w.msg_id.and_then(|v| v.as_u64()).map(MsgId),
                in_reply_to: w.in_reply_to.and_then(|v| v.as_u64()).map(MsgId),
            },
            Err(_) => BodyHead::default(),
        }
    }

    /// The reserved keys from already parsed body fields.
    pub fn of_fields(fields: &crate::schema::Body) -> BodyHead {
        let get = |k: &str| fields.get(k).and_then(crate::value::OpValue::as_json);
        BodyHead {
            kind: get("type").and_then(Value::as_str).map(str::to_owned),
            msg_id: get("msg_id").and_then(Value::as_u64).map(MsgId),
            in_reply_to: get("in_reply_to").and_then(Value::as_u64).map(MsgId),
        }
    }

    /// Whether this is an error body.
    pub fn is_error(&self) -> bool {
        self.kind.as_deref() == Some("error")
    }
}

/// A message on the simulated network.
#[derive(Debug, Clone)]
pub struct Packet {
    /// The network's id (the `"id"` field of the delivered line).
    pub id: NetId,
    /// Sender.
    pub src: Endpoint,
    /// Recipient.
    pub dest: Endpoint,
    /// The body, verbatim.
    pub body: RawBody,
    /// The body's reserved keys.
    pub head: BodyHead,
}

/// A message body as JSON text, verbatim: always exactly one well-formed JSON value, because
/// it is only made by reading or writing JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBody(Box<str>);

impl RawBody {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// Text that this crate's own reader has just checked to be one JSON value, as
    /// `serde_json` would accept it.
    pub(crate) fn checked(text: &str) -> RawBody {
        RawBody(text.into())
    }
}

impl From<Box<RawValue>> for RawBody {
    fn from(raw: Box<RawValue>) -> RawBody {
        RawBody(raw.into())
    }
}

/// Why a line printed by a node was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not well-formed JSON.
    NotJson(String),
    /// JSON, but not a valid envelope (missing or mistyped `src`/`dest`/`body`, extra keys).
    Schema(String),
    /// `src` or `dest` is not a registered endpoint.
    UnknownEndpoint {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
        /// Whether it names a client connection that existed once but is closed now (a late
        /// reply after a timeout), as opposed to something that never existed.
        closed_client: bool,
    },
    /// A message to the node itself from someone else: what it was sent, printed back (a node
    /// that copies stdin to stdout). Routing it would loop it forever.
    Echoed {
        /// Its `src`.
        src: String,
        /// Its `dest`: the node that printed it.
        dest: String,
    },
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::NotJson(e) => {
                write!(
                    f,
                    "printed a line to STDOUT which was not well-formed JSON ({e})"
                )
            }
            LineError::Schema(e) => write!(
                f,
                "printed a message that does not match the envelope schema ({e})"
            ),
            LineError::UnknownEndpoint {
                field,
                value,
                closed_client: true,
            } => {
                write!(
                    f,
                    "sent a message with {field} {value:?}, a client connection that is already closed (a reply after the client timed out?)"
                )
            }
            LineError::UnknownEndpoint {
                field,
                value,
                closed_client: false,
            } => {
                write!(
                    f,
                    "sent a message with {field} {value:?}, which is not a node, client or service of this test"
                )
            }
            LineError::Echoed { src, dest } => write!(
                f,
                "echoed a message it was sent back to us (src {src:?}, dest {dest:?}: itself); does it copy stdin to stdout?"
            ),
        }
    }
}

/// A syntactically valid envelope whose endpoints are not resolved yet.
#[derive(Debug)]
pub struct ParsedLine<'a> {
    /// `src` as printed.
    pub src: Cow<'a, str>,
    /// `dest` as printed.
    pub dest: Cow<'a, str>,
    /// The body, verbatim.
    pub body: RawBody,
}

/// Parse one stdout line against the closed envelope schema.
pub fn parse_line(line: &str) -> Result<ParsedLine<'_>, LineError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wire<'a> {
        #[serde(borrow)]
        src: Cow<'a, str>,
        #[serde(borrow)]
        dest: Cow<'a, str>,
        body: Box<RawValue>,
        #[serde(default)]
        #[allow(dead_code)]
        id: Option<i64>,
    }
    match serde_json::from_str::<Wire<'_>>(line) {
        Ok(w) => Ok(ParsedLine {
            src: w.src,
            dest: w.dest,
            body: w.body.into(),
        }),
        Err(e) => {
            if matches!(e.classify(), serde_json::error::Category::Data) {
                Err(LineError::Schema(e.to_string()))
            } else {
                Err(LineError::NotJson(e.to_string()))
            }
        }
    }
}

/// A line a node printed, read as far as it can be without the engine's state: the envelope,
/// the body's reserved keys, and (when `dest` reads as a client id) the body's fields.
///
/// It is what [`crate::engine::Engine::handle_line`] does first, split out so that a host
/// running node code on other threads (the simulation) can do it there, beside the node that
/// printed the line, instead of on the engine's thread. The engine's result is the same
/// either way.
#[derive(Debug, Clone)]
pub struct Preparsed {
    /// `src`, `dest` and the raw body, or why the line is not an envelope.
    pub envelope: Result<(String, String, RawBody), LineError>,
    /// The body's reserved keys.
    pub head: BodyHead,
    /// The body's fields, when `dest` reads as a client id and the body is an object.
    pub fields: Option<crate::schema::Body>,
}

impl Preparsed {
    /// Reads `line`.
    pub fn of(line: &str) -> Preparsed {
        match line_reader::read(line) {
            Some(flat) => flat.into_preparsed(),
            None => Preparsed::of_any(line),
        }
    }

    /// Reads `line` with `serde_json` alone, whatever its shape ([`Preparsed::of`] takes a
    /// faster road for the commonest shape, with the same result).
    pub fn of_any(line: &str) -> Preparsed {
        let envelope = parse_line(line).map(|p| (p.src.into_owned(), p.dest.into_owned(), p.body));
        let (head, fields) = match &envelope {
            Ok((_, dest, body)) => {
                // A reply to a client is parsed once, into fields, and its head read from
                // them: big read replies are the costliest lines of a run.
                let fields = crate::ids::parse_client_id(dest)
                    .and_then(|_| crate::schema::parse_body(body.get()));
                let head = match &fields {
                    Some(f) => BodyHead::of_fields(f),
                    None => BodyHead::parse(body),
                };
                (head, fields)
            }
            Err(_) => (BodyHead::default(), None),
        };
        Preparsed {
            envelope,
            head,
            fields,
        }
    }
}

/// Equal when the envelopes (body text included) are: the rest is read from them.
impl PartialEq for Preparsed {
    fn eq(&self, other: &Self) -> bool {
        match (&self.envelope, &other.envelope) {
            (Ok((s1, d1, b1)), Ok((s2, d2, b2))) => s1 == s2 && d1 == d2 && b1.get() == b2.get(),
            (Err(e1), Err(e2)) => e1 == e2,
            _ => false,
        }
    }
}

impl Eq for Preparsed {}

/// Format a delivered line: `{"id":N,"src":..,"dest":..,"body":..}` (Maelstrom's field order).
pub fn format_line(id: NetId, src: &str, dest: &str, body: &RawBody) -> String {
    let mut out = String::with_capacity(body.get().len() + src.len() + dest.len() + 48);
    let _ = write!(out, "{{\"id\":{},\"src\":", id.0);
    push_json_str(&mut out, src);
    out.push_str(",\"dest\":");
    push_json_str(&mut out, dest);
    out.push_str(",\"body\":");
    out.push_str(body.get());
    out.push('}');
    out
}

fn push_json_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Serialising a &str cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
    }
}

/// Turn a JSON value into a raw body.
pub fn raw_body(value: &Value) -> RawBody {
    // A `Value` always serialises; fall back to `null` rather than panic.
    RawBody(
        serde_json::to_string(value)
            .unwrap_or_else(|_| "null".to_owned())
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_closed() {
        let ok = parse_line(r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok"},"id":3}"#);
        assert!(ok.is_ok());
        let extra = parse_line(r#"{"src":"n1","dest":"c1","body":{},"extra":1}"#);
        assert!(matches!(extra, Err(LineError::Schema(_))));
        let no_body = parse_line(r#"{"src":"n1","dest":"c1"}"#);
        assert!(matches!(no_body, Err(LineError::Schema(_))));
        let null_src = parse_line(r#"{"src":null,"dest":"c1","body":{}}"#);
        assert!(matches!(null_src, Err(LineError::Schema(_))));
        let garbage = parse_line("hello world");
        assert!(matches!(garbage, Err(LineError::NotJson(_))));
        let escaped =
            parse_line(r#"{"src":"n\u0031","dest":"c1","body":1}"#).map(|p| p.src.into_owned());
        assert_eq!(escaped, Ok("n1".to_owned()));
    }

    #[test]
    fn head_and_format() {
        let p =
            parse_line(r#"{"src":"n1","dest":"n2","body":{"type":"gossip","msg_id":4,"x":[1,2]}}"#);
        let p = p.map_err(|e| e.to_string());
        let Ok(p) = p else {
            panic!("parse failed: {p:?}")
        };
        let head = BodyHead::parse(&p.body);
        assert_eq!(head.kind.as_deref(), Some("gossip"));
        assert_eq!(head.msg_id, Some(MsgId(4)));
        assert_eq!(head.in_reply_to, None);
        let line = format_line(NetId(9), &p.src, &p.dest, &p.body);
        assert_eq!(
            line,
            r#"{"id":9,"src":"n1","dest":"n2","body":{"type":"gossip","msg_id":4,"x":[1,2]}}"#
        );
        assert_eq!(
            BodyHead::parse(&raw_body(&Value::from(3))),
            BodyHead::default()
        );
    }
}
