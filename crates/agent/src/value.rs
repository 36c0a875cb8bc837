//! Client values: any JSON value, stored as its canonical text.
//!
//! Set elements and register values must be ordered and compared by content, and
//! `serde_json::Value` is neither `Ord` nor canonical (object keys keep whatever order the
//! map type gives them). So a value is stored as canonical JSON text: object keys sorted, no
//! whitespace. Two clients that send `{"a":1,"b":2}` and `{ "b": 2, "a": 1 }` name the same
//! element. Numbers keep their text (`1` and `1.0` are different elements).

use std::cmp::Ordering;

use serde_json::Value;

/// Canonical JSON text of `value`: object keys in byte order, no whitespace.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The stored text back as a value. Stored texts come from [`canonical`] here or from a
/// peer's state; a text that does not parse (a peer running something else) reads as a
/// string holding the text, so a read never fails on it.
pub fn parse_stored(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A total order on JSON values, the one reads list them in: null, false, true, numbers (by
/// value), strings, arrays, objects; arrays and objects by their canonical text.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(false) => 1,
            Value::Bool(true) => 2,
            Value::Number(_) => 3,
            Value::String(_) => 4,
            Value::Array(_) => 5,
            Value::Object(_) => 6,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            fx.total_cmp(&fy)
                .then_with(|| x.to_string().cmp(&y.to_string()))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            canonical(a).cmp(&canonical(b))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Stored texts as values, in [`compare`] order.
pub fn sorted_values<'a>(texts: impl IntoIterator<Item = &'a String>) -> Vec<Value> {
    let mut values: Vec<Value> = texts.into_iter().map(|t| parse_stored(t)).collect();
    values.sort_by(compare);
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_text_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{ "b": [1, {"y":1,"x":2}], "a": null }"#).expect("valid json");
        assert_eq!(canonical(&a), r#"{"a":null,"b":[1,{"x":2,"y":1}]}"#);
        assert_eq!(canonical(&json!("q\"uote")), r#""q\"uote""#);
    }

    #[test]
    fn values_sort_by_kind_then_content() {
        let texts: Vec<String> = [
            json!({"a": 1}),
            json!("b"),
            json!(10),
            json!(2),
            json!("a"),
            json!(true),
            json!(null),
            json!(-1.5),
        ]
        .iter()
        .map(canonical)
        .collect();
        assert_eq!(
            sorted_values(&texts),
            vec![
                json!(null),
                json!(true),
                json!(-1.5),
                json!(2),
                json!(10),
                json!("a"),
                json!("b"),
                json!({"a": 1})
            ]
        );
    }

    #[test]
    fn a_stored_text_that_is_not_json_reads_as_a_string() {
        assert_eq!(parse_stored("not json"), json!("not json"));
    }
}
