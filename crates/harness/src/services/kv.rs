//! The key-value operations shared by `lin-kv`, `seq-kv` and `lww-kv`: `read`, `write`
//! and `cas`, as a pure function from a state and a request to a reply and maybe a new state.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error_code::{KEY_DOES_NOT_EXIST, PRECONDITION_FAILED};

/// A store: keys are compared by JSON value (canonical text), values are arbitrary JSON.
pub type KvState = BTreeMap<String, Value>;

/// The canonical form of a key (serde_json maps are sorted, so equal values print equally).
pub fn canonical(key: &Value) -> String {
    key.to_string()
}

/// The result of applying a request.
#[derive(Debug, Clone, PartialEq)]
pub enum KvResult {
    /// Reply with this body; the state is unchanged.
    Unchanged(Value),
    /// Reply with this body; the state becomes the given one.
    Changed(Value, KvState),
    /// Not a KV request: log it, send nothing.
    Unsupported(String),
}

fn error(code: i64, text: String) -> Value {
    json!({"type": "error", "code": code, "text": text})
}

/// Apply one request body to `state`. `allow_create` is false for lww-kv, which has no
/// `create_if_not_exists`.
pub fn apply(state: &KvState, body: &Value, allow_create: bool) -> KvResult {
    let kind = body.get("type").and_then(Value::as_str).unwrap_or_default();
    let key = body.get("key").cloned().unwrap_or(Value::Null);
    let k = canonical(&key);
    match kind {
        "read" => match state.get(&k) {
            Some(v) => KvResult::Unchanged(json!({"type": "read_ok", "value": v})),
            None => KvResult::Unchanged(error(KEY_DOES_NOT_EXIST, "key does not exist".into())),
        },
        "write" => {
            let v = body.get("value").cloned().unwrap_or(Value::Null);
            if state.get(&k) == Some(&v) {
                return KvResult::Unchanged(json!({"type": "write_ok"}));
            }
            let mut next = state.clone();
            next.insert(k, v);
            KvResult::Changed(json!({"type": "write_ok"}), next)
        }
        "cas" => {
            let from = body.get("from").cloned().unwrap_or(Value::Null);
            let to = body.get("to").cloned().unwrap_or(Value::Null);
            let create = allow_create
                && body
                    .get("create_if_not_exists")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            match state.get(&k) {
                None if create => {
                    let mut next = state.clone();
                    next.insert(k, to);
                    KvResult::Changed(json!({"type": "cas_ok"}), next)
                }
                None => KvResult::Unchanged(error(KEY_DOES_NOT_EXIST, "key does not exist".into())),
                Some(cur) if *cur != from => KvResult::Unchanged(error(
                    PRECONDITION_FAILED,
                    format!("current value {cur} is not {from}"),
                )),
                Some(cur) if *cur == to => KvResult::Unchanged(json!({"type": "cas_ok"})),
                Some(_) => {
                    let mut next = state.clone();
                    next.insert(k, to);
                    KvResult::Changed(json!({"type": "cas_ok"}), next)
                }
            }
        }
        other => KvResult::Unsupported(format!("unknown request type {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(r: &KvResult) -> &Value {
        match r {
            KvResult::Unchanged(v) | KvResult::Changed(v, _) => v,
            KvResult::Unsupported(_) => &Value::Null,
        }
    }

    #[test]
    fn read_write_cas() {
        let s = KvState::new();
        let r = apply(&s, &json!({"type":"read","key":"a"}), true);
        assert_eq!(reply(&r)["code"], json!(20));
        let KvResult::Changed(_, s) = apply(&s, &json!({"type":"write","key":"a","value":1}), true)
        else {
            panic!("write should change")
        };
        assert_eq!(
            reply(&apply(&s, &json!({"type":"read","key":"a"}), true))["value"],
            json!(1)
        );
        let bad = apply(&s, &json!({"type":"cas","key":"a","from":2,"to":3}), true);
        assert_eq!(reply(&bad)["code"], json!(22));
        assert!(matches!(
            apply(&s, &json!({"type":"cas","key":"a","from":1,"to":3}), true),
            KvResult::Changed(..)
        ));
        assert_eq!(
            reply(&apply(
                &s,
                &json!({"type":"cas","key":"b","from":1,"to":3}),
                true
            ))["code"],
            json!(20)
        );
        let created = apply(
            &s,
            &json!({"type":"cas","key":"b","from":1,"to":3,"create_if_not_exists":true}),
            true,
        );
        assert!(matches!(created, KvResult::Changed(..)));
        let lww = apply(
            &s,
            &json!({"type":"cas","key":"b","from":1,"to":3,"create_if_not_exists":true}),
            false,
        );
        assert_eq!(reply(&lww)["code"], json!(20));
        assert!(matches!(
            apply(&s, &json!({"type":"frob"}), true),
            KvResult::Unsupported(_)
        ));
        // Keys compare by JSON value.
        let KvResult::Changed(_, s) = apply(
            &s,
            &json!({"type":"write","key":{"x":[1]},"value":"v"}),
            true,
        ) else {
            panic!("write should change")
        };
        assert_eq!(
            reply(&apply(&s, &json!({"type":"read","key":{"x":[1]}}), true))["value"],
            json!("v")
        );
    }
}
