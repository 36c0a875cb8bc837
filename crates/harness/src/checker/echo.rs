//! The echo checker: every invocation's value must come back as the completion's
//! `echo`. A fail or info completion has no `echo`, so it counts as a mismatch too.

use serde_json::{Value, json};

use super::Validity;
use crate::history::{History, OpType};
use crate::value::OpValue;

/// Run the echo checker.
pub fn check(history: &History) -> Value {
    let errors: Vec<Value> = history
        .pairs()
        .into_iter()
        .filter(|(inv, _)| inv.kind == OpType::Invoke && inv.f == "echo")
        .filter_map(|(inv, done)| {
            let done = done?;
            let echoed = if done.kind == OpType::Ok {
                done.value.as_json().and_then(|v| v.get("echo")).cloned()
            } else {
                None
            };
            (echoed.map(OpValue::from).as_ref() != Some(&inv.value)).then(|| {
                json!([
                    "Expected a message with :echo",
                    inv.value,
                    "But received",
                    done.value
                ])
            })
        })
        .collect();
    let valid = if errors.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    json!({"valid?": valid.to_json(), "errors": errors})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use OpType::*;

    #[test]
    fn echo_matches_and_mismatches() {
        let good = History::from_ops([
            op(0, Invoke, "echo", json!("Please echo 1"), 0),
            op(
                0,
                Ok,
                "echo",
                json!({"type":"echo_ok","echo":"Please echo 1","in_reply_to":1}),
                1,
            ),
        ]);
        assert_eq!(check(&good)["valid?"], json!(true));
        let bad = History::from_ops([
            op(0, Invoke, "echo", json!("Please echo 1"), 0),
            op(
                0,
                Ok,
                "echo",
                json!({"type":"echo_ok","echo":"Please echo 2","in_reply_to":1}),
                1,
            ),
            op(1, Invoke, "echo", json!("Please echo 3"), 0),
            op(1, Info, "echo", json!("Please echo 3"), 1),
        ]);
        let r = check(&bad);
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(2));
    }
}
