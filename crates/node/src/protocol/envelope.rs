//! The message envelope: parsing what arrives on stdin, building what leaves on stdout.
//!
//! Maelstrom is strict about what nodes print (one JSON object per line, no top-level key but
//! `src`, `dest` and `body`) and lenient about what it sends (an extra top-level `id` on every
//! delivered message). Parsing here accepts exactly what Maelstrom sends; building emits only
//! what it accepts.
//!
//! Most lines a node reads are `gossip` between nodes, whose bodies are long lists of deltas.
//! Those bodies are not turned into a JSON tree here: the replication engine parses its packet
//! straight from the text ([`Inbound::body_text`]), which is most of what parsing costs in a
//! large cluster.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{GOSSIP, MsgId, NodeId};

/// A message read from stdin, with the fields every handler needs pulled out.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Sender.
    pub src: NodeId,
    /// Addressee (us, normally).
    pub dest: NodeId,
    /// The body's `type`.
    pub kind: String,
    /// The body's `msg_id`, if any.
    pub msg_id: Option<MsgId>,
    /// The body's `in_reply_to`, if any: then this is a reply.
    pub in_reply_to: Option<MsgId>,
    /// The whole body, `type` and ids included; for `gossip`, possibly only those and `w`
    /// (the replication engine parses its packet from [`body_text`](Self::body_text)).
    pub body: Map<String, Value>,
    /// The body as JSON text.
    pub body_text: String,
}

impl Inbound {
    /// `true` iff this message answers one of ours.
    pub fn is_reply(&self) -> bool {
        self.in_reply_to.is_some()
    }
}

/// Why a line was not a message. The node logs it to stderr and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON at all.
    NotJson(String),
    /// JSON, but not an object.
    NotAnObject,
    /// A mandatory field is missing: `src`, `dest`, `body` or the body's `type`.
    Missing(&'static str),
    /// A field has the wrong JSON type.
    WrongType {
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotJson(e) => write!(f, "not JSON: {e}"),
            ParseError::NotAnObject => write!(f, "not a JSON object"),
            ParseError::Missing(field) => write!(f, "missing `{field}`"),
            ParseError::WrongType { field, expected } => {
                write!(f, "`{field}` should be {expected}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one stdin line. The extra top-level `id` Maelstrom adds is accepted and ignored.
pub fn parse_line(line: &str) -> Result<Inbound, ParseError> {
    match parse_well_formed(line) {
        Some(msg) => Ok(msg),
        None => parse_any(line),
    }
}

/// The body fields every message is dispatched on.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
    w: Option<Value>,
}

/// The fast path for a well-formed line: `None` for anything unusual (a missing field, a
/// wrong type, a repeated key), which [`parse_any`] then accepts or names the fault of.
fn parse_well_formed(line: &str) -> Option<Inbound> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        src: String,
        dest: String,
        #[serde(borrow)]
        body: &'a RawValue,
    }
    // A struct also parses from an array; a message is an object.
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let envelope: Envelope<'_> = serde_json::from_str(line).ok()?;
    let text = envelope.body.get();
    if !text.starts_with('{') {
        return None;
    }
    let head: Head = serde_json::from_str(text).ok()?;
    let body = if head.kind == GOSSIP {
        let mut body = Map::new();
        body.insert("type".into(), Value::String(head.kind.clone()));
        for (key, id) in [("msg_id", head.msg_id), ("in_reply_to", head.in_reply_to)] {
            if let Some(id) = id {
                body.insert(key.into(), Value::from(id));
            }
        }
        if let Some(w) = head.w {
            body.insert("w".into(), w);
        }
        body
    } else {
        serde_json::from_str(text).ok()?
    };
    Some(Inbound {
        src: NodeId(envelope.src),
        dest: NodeId(envelope.dest),
        kind: head.kind,
        msg_id: head.msg_id.map(MsgId),
        in_reply_to: head.in_reply_to.map(MsgId),
        body,
        body_text: text.to_string(),
    })
}

/// Parses any line, naming what is wrong with a bad one.
fn parse_any(line: &str) -> Result<Inbound, ParseError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(mut envelope) = value else {
        return Err(ParseError::NotAnObject);
    };
    let src = take_string(&mut envelope, "src")?;
    let dest = take_string(&mut envelope, "dest")?;
    let body = match envelope.remove("body") {
        Some(Value::Object(body)) => body,
        Some(_) => {
            return Err(ParseError::WrongType {
                field: "body",
                expected: "an object",
            });
        }
        None => return Err(ParseError::Missing("body")),
    };
    let kind = match body.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => {
            return Err(ParseError::WrongType {
                field: "type",
                expected: "a string",
            });
        }
        None => return Err(ParseError::Missing("type")),
    };
    let msg_id = optional_id(&body, "msg_id")?;
    let in_reply_to = optional_id(&body, "in_reply_to")?;
    // A map of strings and JSON values always serialises.
    let body_text = serde_json::to_string(&body).unwrap_or_default();
    Ok(Inbound {
        src: NodeId(src),
        dest: NodeId(dest),
        kind,
        msg_id,
        in_reply_to,
        body,
        body_text,
    })
}

fn take_string(map: &mut Map<String, Value>, field: &'static str) -> Result<String, ParseError> {
    match map.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ParseError::WrongType {
            field,
            expected: "a string",
        }),
        None => Err(ParseError::Missing(field)),
    }
}

fn optional_id(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<MsgId>, ParseError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(MsgId(n)))
            .ok_or(ParseError::WrongType {
                field,
                expected: "a non-negative integer",
            }),
    }
}

/// A message to print: exactly `src`, `dest` and `body`, in that order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outbound {
    /// Sender (us).
    pub src: NodeId,
    /// Addressee.
    pub dest: NodeId,
    /// The body.
    pub body: Map<String, Value>,
}

impl Outbound {
    /// The message as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        // A map of strings and JSON values always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A message line from `src` to `dest` whose body is already JSON text (an object), so that
/// hot paths serialise their bodies once, straight from typed values.
pub fn line_with_body(src: &NodeId, dest: &NodeId, body: &str) -> String {
    let mut line = line_head(src, dest, body.len());
    line.push_str(body);
    line.push('}');
    line
}

/// The start of a message line, up to its body: `{"src":..,"dest":..,"body":`, with room for
/// `body_len` more bytes. Push the body's text and a closing `}` to finish it (what
/// [`line_with_body`] does); a large body can be written straight into the line this way.
pub fn line_head(src: &NodeId, dest: &NodeId, body_len: usize) -> String {
    // Node ids are plain strings; serialising one cannot fail.
    let src = serde_json::to_string(src).unwrap_or_default();
    let dest = serde_json::to_string(dest).unwrap_or_default();
    let mut line = String::with_capacity(src.len() + dest.len() + body_len + 24);
    line.push_str(r#"{"src":"#);
    line.push_str(&src);
    line.push_str(r#","dest":"#);
    line.push_str(&dest);
    line.push_str(r#","body":"#);
    line
}

/// A body of the given `type`, with `fields`.
pub fn body(
    kind: &str,
    fields: impl IntoIterator<Item = (&'static str, Value)>,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("type".into(), Value::String(kind.into()));
    for (k, v) in fields {
        body.insert(k.into(), v);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_extra_id_maelstrom_adds() {
        let line = r#"{"id":0,"src":"c0","dest":"n0","body":{"type":"init","node_id":"n0","node_ids":["n0"],"msg_id":1}}"#;
        let msg = parse_line(line).expect("a valid init");
        assert_eq!(msg.src, NodeId::from("c0"));
        assert_eq!(msg.kind, "init");
        assert_eq!(msg.msg_id, Some(MsgId(1)));
        assert!(!msg.is_reply());
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(matches!(parse_line("nope"), Err(ParseError::NotJson(_))));
        assert_eq!(parse_line("[1]"), Err(ParseError::NotAnObject));
        assert_eq!(
            parse_line(r#"{"dest":"n1","body":{"type":"x"}}"#),
            Err(ParseError::Missing("src"))
        );
        assert_eq!(
            parse_line(r#"{"src":"c1","dest":"n1"}"#),
            Err(ParseError::Missing("body"))
        );
        assert_eq!(
            parse_line(r#"{"src":"c1","dest":"n1","body":{}}"#),
            Err(ParseError::Missing("type"))
        );
        assert_eq!(
            parse_line(r#"{"src":1,"dest":"n1","body":{"type":"x"}}"#),
            Err(ParseError::WrongType {
                field: "src",
                expected: "a string"
            })
        );
        assert_eq!(
            parse_line(r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":"7"}}"#),
            Err(ParseError::WrongType {
                field: "msg_id",
                expected: "a non-negative integer"
            })
        );
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        let lines = [
            r#"{"id":3,"src":"c1","dest":"n1","body":{"type":"read","msg_id":4}}"#,
            r#"{"src":"c\"1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":{"a":[1,"x"]}}}"#,
            r#" { "src" : "n2" , "dest" : "n1" , "body" : { "w" : "g-set" , "type" : "gossip" , "inc" : 7 , "runs" : [[1,1,[[42]]]] } } "#,
            r#"{"src":"n2","dest":"n1","body":{"type":"gossip","in_reply_to":9,"inc":7}}"#,
            r#"{"src":"n2","dest":"n1","body":{"type":"broadcast_ok","in_reply_to":9,"msg_id":null}}"#,
        ];
        for line in lines {
            let fast = parse_well_formed(line).expect("a well-formed line takes the fast path");
            let general = parse_any(line).expect("and the general one");
            assert_eq!(
                (
                    &fast.src,
                    &fast.dest,
                    &fast.kind,
                    fast.msg_id,
                    fast.in_reply_to
                ),
                (
                    &general.src,
                    &general.dest,
                    &general.kind,
                    general.msg_id,
                    general.in_reply_to
                ),
                "{line}"
            );
            let text: Value = serde_json::from_str(&fast.body_text).expect("the body's text");
            assert_eq!(text, Value::Object(general.body.clone()), "{line}");
            if fast.kind == GOSSIP {
                let mut head = general.body.clone();
                head.retain(|k, _| ["type", "msg_id", "in_reply_to", "w"].contains(&k.as_str()));
                assert_eq!(fast.body, head, "{line}");
            } else {
                assert_eq!(fast.body, general.body, "{line}");
            }
        }
    }

    #[test]
    fn unusual_lines_fall_back_to_the_general_path() {
        // An array would fill the struct positionally; a repeated key is refused by the
        // struct but taken (the last one wins) by the general parser.
        assert!(parse_well_formed(r#"["c1","n1",{"type":"read"}]"#).is_none());
        assert_eq!(
            parse_line(r#"["c1","n1",{"type":"read"}]"#),
            Err(ParseError::NotAnObject)
        );
        let repeated = r#"{"src":"c1","src":"c2","dest":"n1","body":{"type":"read","msg_id":1}}"#;
        assert!(parse_well_formed(repeated).is_none());
        assert_eq!(parse_line(repeated).map(|m| m.src), Ok(NodeId::from("c2")));
    }

    #[test]
    fn a_prebuilt_body_makes_the_same_line() {
        let body = body("gossip", [("inc", Value::from(3))]);
        let via_value = Outbound {
            src: "n1".into(),
            dest: "n\"2".into(),
            body: body.clone(),
        }
        .to_line();
        let text = serde_json::to_string(&body).unwrap_or_default();
        assert_eq!(
            line_with_body(&"n1".into(), &"n\"2".into(), &text),
            via_value
        );
    }

    #[test]
    fn prints_only_src_dest_body() {
        let out = Outbound {
            src: "n1".into(),
            dest: "c2".into(),
            body: body("echo_ok", [("in_reply_to", Value::from(3))]),
        };
        assert_eq!(
            out.to_line(),
            r#"{"src":"n1","dest":"c2","body":{"in_reply_to":3,"type":"echo_ok"}}"#
        );
    }
}
