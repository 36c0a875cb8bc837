//! Jepsen's exceptions checker: `info` ops that carry exceptions, grouped by kind with
//! a count and an example. Always valid; it is there to explain silent `info` ops.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::history::{History, Op, OpType};

/// Run the exceptions checker.
pub fn check(history: &History) -> Value {
    let mut groups: BTreeMap<&str, (u64, &Op)> = BTreeMap::new();
    for op in history.ops().iter().filter(|o| o.kind == OpType::Info) {
        if let Some(e) = &op.exception {
            groups.entry(e.kind.as_str()).or_insert((0, op)).0 += 1;
        }
    }
    if groups.is_empty() {
        return json!({"valid?": true});
    }
    let list: Vec<Value> = groups
        .into_iter()
        .map(
            |(class, (count, example))| json!({"class": class, "count": count, "example": example}),
        )
        .collect();
    json!({"valid?": true, "exceptions": list})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Exception;
    use crate::history::build::op;

    #[test]
    fn groups_by_kind() {
        let mut a = op(0, OpType::Info, "read", Value::Null, 1);
        a.exception = Some(Exception {
            kind: "malformed-rpc-response".into(),
            message: "x".into(),
        });
        let b = a.clone();
        let h = History::from_ops([a, b, op(1, OpType::Info, "add", json!(1), 2)]);
        let r = check(&h);
        assert_eq!(r["exceptions"][0]["class"], json!("malformed-rpc-response"));
        assert_eq!(r["exceptions"][0]["count"], json!(2));
        assert_eq!(check(&History::new()), json!({"valid?": true}));
    }
}
