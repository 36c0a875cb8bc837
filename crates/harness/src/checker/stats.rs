//! Jepsen's `stats` checker: op counts overall and per `f`; a function with no ok op at
//! all makes the run invalid (e.g. every read came back malformed).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Validity;
use crate::history::{History, OpType};

#[derive(Default)]
struct Counts {
    count: u64,
    ok: u64,
    fail: u64,
    info: u64,
}

impl Counts {
    fn add(&mut self, kind: OpType) {
        self.count += 1;
        match kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => {}
        }
    }

    fn to_json(&self, valid: Validity) -> Map<String, Value> {
        let v = json!({
            "valid?": valid.to_json(),
            "count": self.count,
            "ok-count": self.ok,
            "fail-count": self.fail,
            "info-count": self.info,
        });
        v.as_object().cloned().unwrap_or_default()
    }
}

/// Run the stats checker over client completions.
pub fn check(history: &History) -> Value {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<&str, Counts> = BTreeMap::new();
    for op in history
        .ops()
        .iter()
        .filter(|o| o.is_client() && o.kind != OpType::Invoke)
    {
        all.add(op.kind);
        by_f.entry(op.f.as_str()).or_default().add(op.kind);
    }
    let mut by_f_json = Map::new();
    let mut verdicts = Vec::new();
    for (f, c) in &by_f {
        let v = if c.ok > 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        verdicts.push(v);
        by_f_json.insert((*f).to_owned(), Value::Object(c.to_json(v)));
    }
    let mut out = all.to_json(Validity::merge_all(verdicts));
    out.insert("by-f".to_owned(), Value::Object(by_f_json));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use OpType::*;

    #[test]
    fn a_function_without_ok_invalidates() {
        let h = History::from_ops([
            op(0, Invoke, "add", json!(1), 0),
            op(0, Ok, "add", json!(1), 1),
            op(0, Invoke, "read", Value::Null, 2),
            op(0, Info, "read", Value::Null, 3),
        ]);
        let r = check(&h);
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["count"], json!(2));
        assert_eq!(r["ok-count"], json!(1));
        assert_eq!(r["info-count"], json!(1));
        assert_eq!(r["by-f"]["read"]["valid?"], json!(false));
        assert_eq!(r["by-f"]["add"]["valid?"], json!(true));
    }

    #[test]
    fn empty_and_healthy_histories_are_valid() {
        assert_eq!(check(&History::new())["valid?"], json!(true));
        let h = History::from_ops([
            op(0, Invoke, "read", Value::Null, 0),
            op(0, Fail, "read", Value::Null, 1),
            op(0, Invoke, "read", Value::Null, 2),
            op(0, Ok, "read", json!([]), 3),
        ]);
        let r = check(&h);
        assert_eq!(r["valid?"], json!(true));
        assert_eq!(r["fail-count"], json!(1));
    }
}
