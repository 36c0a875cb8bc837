//! Checkers: each judges the history (or the network journal) and returns a JSON map with
//! a `valid?` key, under Maelstrom's key names. One module per checker; this one holds the
//! shared validity type, the merge rule and the quantile rule. `docs/maelstrom.md`, "Checkers and
//! `results.json`", describes what each reports.

pub mod availability;
pub mod counter;
pub mod echo;
pub mod exceptions;
pub mod net;
pub mod protocol;
pub mod set_full;
pub mod stats;

use serde_json::{Map, Value, json};

/// A checker's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// No anomalies.
    Valid,
    /// Anomalies found.
    Invalid,
    /// Could not decide.
    Unknown,
}

impl Validity {
    /// The JSON form: `true`, `false` or `"unknown"`.
    pub fn to_json(self) -> Value {
        match self {
            Validity::Valid => Value::Bool(true),
            Validity::Invalid => Value::Bool(false),
            Validity::Unknown => json!("unknown"),
        }
    }

    /// Read a `valid?` value; anything unexpected is unknown.
    pub fn from_json(v: &Value) -> Validity {
        match v {
            Value::Bool(true) => Validity::Valid,
            Value::Bool(false) => Validity::Invalid,
            _ => Validity::Unknown,
        }
    }

    /// Jepsen's `merge-valid`: false beats unknown beats true.
    pub fn merge(self, other: Validity) -> Validity {
        match (self, other) {
            (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        }
    }

    /// Merge many (an empty list is valid).
    pub fn merge_all(it: impl IntoIterator<Item = Validity>) -> Validity {
        it.into_iter().fold(Validity::Valid, Validity::merge)
    }

    /// The validity recorded in a checker result map.
    pub fn of(result: &Value) -> Validity {
        result
            .get("valid?")
            .map_or(Validity::Unknown, Validity::from_json)
    }
}

/// The quantile points Maelstrom reports.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.0, "0"),
    (0.5, "0.5"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (1.0, "1"),
];

/// The element at quantile `p` of sorted values: index min(n−1, floor(n·p)).
pub fn quantile(sorted: &[u64], p: f64) -> Option<u64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let i = ((n as f64 * p).floor() as usize).min(n - 1);
    sorted.get(i).copied()
}

/// Jepsen's `frequency-distribution` over [`QUANTILES`] as a JSON map.
pub fn quantile_map(values: &[u64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mut m = Map::new();
    for (p, key) in QUANTILES {
        if let Some(v) = quantile(&sorted, p) {
            m.insert(key.to_owned(), json!(v));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_priority() {
        use Validity::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(Validity::merge_all([]), Valid);
        assert_eq!(Validity::merge_all([Valid, Unknown, Valid]), Unknown);
        assert_eq!(Validity::of(&json!({"valid?": "unknown"})), Unknown);
        assert_eq!(Validity::of(&json!({"valid?": false})), Invalid);
    }

    #[test]
    fn quantile_rule() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(quantile(&v, 0.0), Some(1));
        assert_eq!(quantile(&v, 0.5), Some(6));
        assert_eq!(quantile(&v, 0.95), Some(10));
        assert_eq!(quantile(&v, 1.0), Some(10));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(
            quantile_map(&[5, 1, 3]),
            json!({"0":1,"0.5":3,"0.95":5,"0.99":5,"1":5})
        );
    }
}
