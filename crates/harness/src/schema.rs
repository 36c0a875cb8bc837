//! Closed response schemas: what a client accepts as a successful reply.
//!
//! An `error` body becomes an RPC error without any schema check. Any other reply must have
//! exactly the RPC's fields plus a required integer `in_reply_to` and an optional integer
//! `msg_id`; anything more or less is a malformed response. This is the commonest source of
//! silent `info` ops in Maelstrom, so it is reproduced exactly.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error_code::{self, ErrorCode};
use crate::value::OpValue;

/// A reply body's fields, parsed once; integer arrays are already compact sets.
pub type Body = BTreeMap<String, OpValue>;

/// The type a response field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Any JSON value.
    Any,
    /// An integer (`5.0` is not one).
    Int,
    /// An array of anything.
    Array,
}

/// A success response schema: its `type` and its fields (all required).
#[derive(Debug, Clone, Copy)]
pub struct ResponseSchema {
    /// The response `type`, e.g. `read_ok`.
    pub kind: &'static str,
    /// Required fields besides `type`, `in_reply_to` and `msg_id`.
    pub fields: &'static [(&'static str, FieldType)],
}

/// An error reply from a node.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The registry entry for its code.
    pub code: ErrorCode,
    /// Its `text`, if any.
    pub text: Option<String>,
}

/// How a reply was interpreted.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A valid success body.
    Ok(Body),
    /// An error body.
    Error(RpcError),
    /// A body that fails the schema; the string says why.
    Malformed(String),
}

fn type_ok(t: FieldType, v: &OpValue) -> bool {
    match t {
        FieldType::Any => true,
        FieldType::Int => v.as_json().is_some_and(|v| v.is_i64() || v.is_u64()),
        FieldType::Array => v.is_array(),
    }
}

fn str_of<'a>(map: &'a Body, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(OpValue::as_json)
        .and_then(Value::as_str)
}

/// Parse a body (raw JSON text) into its fields; `None` if it is not a JSON object.
pub fn parse_body(raw: &str) -> Option<Body> {
    serde_json::from_str(raw).ok()
}

/// Interpret a reply body (raw JSON text) against a schema.
pub fn interpret(schema: &ResponseSchema, raw: &str) -> Reply {
    let Some(map) = parse_body(raw) else {
        let shown: String = raw.chars().take(200).collect();
        return Reply::Malformed(format!("response body is not an object: {shown}"));
    };
    interpret_body(schema, map)
}

/// Interpret already parsed reply fields against a schema.
pub fn interpret_body(schema: &ResponseSchema, map: Body) -> Reply {
    if str_of(&map, "type") == Some("error") {
        let code = map.get("code").and_then(OpValue::as_i64).unwrap_or(13);
        let text = str_of(&map, "text").map(str::to_owned);
        return Reply::Error(RpcError {
            code: error_code::lookup(code),
            text,
        });
    }
    let mut problems = Vec::new();
    match map.get("type") {
        Some(OpValue::Json(Value::String(t))) if t == schema.kind => {}
        other => problems.push(format!(
            "type should be {:?} but was {}",
            schema.kind,
            show(other)
        )),
    }
    match map.get("in_reply_to") {
        Some(v) if type_ok(FieldType::Int, v) => {}
        other => problems.push(format!(
            "in_reply_to should be an integer but was {}",
            show(other)
        )),
    }
    if let Some(v) = map.get("msg_id").filter(|v| !type_ok(FieldType::Int, v)) {
        problems.push(format!("msg_id should be an integer but was {v}"));
    }
    for (name, t) in schema.fields {
        match map.get(*name) {
            Some(v) if type_ok(*t, v) => {}
            Some(v) => problems.push(format!("{name} should be {t:?} but was {v}")),
            None => problems.push(format!("missing required key {name:?}")),
        }
    }
    for key in map.keys() {
        let known = matches!(key.as_str(), "type" | "in_reply_to" | "msg_id")
            || schema.fields.iter().any(|(n, _)| n == key);
        if !known {
            problems.push(format!("disallowed key {key:?}"));
        }
    }
    if problems.is_empty() {
        Reply::Ok(map)
    } else {
        Reply::Malformed(format!(
            "malformed {} response: {}",
            schema.kind,
            problems.join("; ")
        ))
    }
}

fn show(v: Option<&OpValue>) -> String {
    v.map_or_else(|| "missing".to_owned(), OpValue::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const READ: ResponseSchema = ResponseSchema {
        kind: "read_ok",
        fields: &[("value", FieldType::Int)],
    };

    #[test]
    fn closed_schema() {
        assert!(matches!(
            interpret(
                &READ,
                &json!({"type":"read_ok","value":3,"in_reply_to":1}).to_string()
            ),
            Reply::Ok(_)
        ));
        assert!(matches!(
            interpret(
                &READ,
                &json!({"type":"read_ok","value":3,"in_reply_to":1,"msg_id":7}).to_string()
            ),
            Reply::Ok(_)
        ));
        for bad in [
            json!({"type":"read_ok","value":3,"in_reply_to":1,"extra":true}),
            json!({"type":"read_ok","value":3.0,"in_reply_to":1}),
            json!({"type":"read_ok","value":3,"in_reply_to":1,"msg_id":null}),
            json!({"type":"read_ok","in_reply_to":1}),
            json!({"type":"read_ok","value":3}),
            json!({"type":"write_ok","value":3,"in_reply_to":1}),
            json!([1]),
        ] {
            assert!(
                matches!(interpret(&READ, &bad.to_string()), Reply::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_skip_the_schema() {
        let r = interpret(
            &READ,
            &json!({"type":"error","code":11,"text":"busy","in_reply_to":1,"extra":1}).to_string(),
        );
        match r {
            Reply::Error(e) => {
                assert!(e.code.definite);
                assert_eq!(e.text.as_deref(), Some("busy"));
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
