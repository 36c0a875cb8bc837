//! The counter checker of pn-counter and g-counter.
//!
//! Acceptable final values are the subset sums of the `info` adds on top of the sum of the ok
//! adds, kept as disjoint closed intervals. Only `final?` ok reads are judged.

use serde_json::{Value, json};

use super::Validity;
use crate::history::{History, OpType};

/// Disjoint, sorted, non-touching closed intervals of integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(Vec<(i64, i64)>);

impl RangeSet {
    /// The set {v}.
    pub fn single(v: i64) -> RangeSet {
        RangeSet(vec![(v, v)])
    }

    /// self ∪ (self + d).
    pub fn add_maybe(&self, d: i64) -> RangeSet {
        let mut all: Vec<(i64, i64)> = self.0.clone();
        all.extend(
            self.0
                .iter()
                .map(|&(lo, hi)| (lo.saturating_add(d), hi.saturating_add(d))),
        );
        all.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        RangeSet(merged)
    }

    /// Membership.
    pub fn contains(&self, v: i64) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= v && v <= hi)
    }

    /// The intervals.
    pub fn intervals(&self) -> &[(i64, i64)] {
        &self.0
    }
}

/// Run the counter checker.
pub fn check(history: &History) -> Value {
    let adds = history
        .ops()
        .iter()
        .filter(|o| o.is_client() && o.f == "add");
    let definite: i64 = adds
        .clone()
        .filter(|o| o.kind == OpType::Ok)
        .filter_map(|o| o.value.as_i64())
        .sum();
    let mut acceptable = RangeSet::single(definite);
    for op in adds.filter(|o| o.kind == OpType::Info) {
        if let Some(d) = op.value.as_i64() {
            acceptable = acceptable.add_maybe(d);
        }
    }
    let final_reads: Vec<_> = history
        .ops()
        .iter()
        .filter(|o| o.is_client() && o.f == "read" && o.kind == OpType::Ok && o.is_final)
        .collect();
    let errors: Vec<Value> = final_reads
        .iter()
        .filter(|o| !o.value.as_i64().is_some_and(|v| acceptable.contains(v)))
        .map(|o| json!(o))
        .collect();
    let valid = if errors.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    json!({
        "valid?": valid.to_json(),
        "errors": if errors.is_empty() { Value::Null } else { Value::Array(errors) },
        "final-reads": final_reads.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
        "acceptable": acceptable.intervals().iter().map(|&(lo, hi)| json!([lo, hi])).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use crate::history::{Op, OpType::*};

    fn final_read(p: u64, v: i64, t: u64) -> [Op; 2] {
        let mut inv = op(p, Invoke, "read", Value::Null, t);
        let mut ok = op(p, Ok, "read", json!(v), t + 1);
        inv.is_final = true;
        ok.is_final = true;
        [inv, ok]
    }

    fn add(p: u64, kind: OpType, d: i64, t: u64) -> [Op; 2] {
        [
            op(p, Invoke, "add", json!(d), t),
            op(p, kind, "add", json!(d), t + 1),
        ]
    }

    #[test]
    fn vector_empty_history() {
        let r = check(&History::new());
        assert_eq!(r["valid?"], json!(true));
        assert_eq!(r["acceptable"], json!([[0, 0]]));
        assert_eq!(r["final-reads"], json!([]));
        assert_eq!(r["errors"], Value::Null);
    }

    #[test]
    fn vector_definite_adds() {
        let h = History::from_ops(
            [
                add(0, Ok, 2, 0),
                add(1, Ok, 3, 2),
                final_read(0, 5, 10),
                final_read(1, 4, 10),
            ]
            .into_iter()
            .flatten(),
        );
        let r = check(&h);
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["acceptable"], json!([[5, 5]]));
        assert_eq!(r["final-reads"], json!([5, 4]));
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(1));
        assert_eq!(r["errors"][0]["value"], json!(4));
    }

    #[test]
    fn vector_indefinite_adds() {
        let h = History::from_ops(
            [
                add(0, Ok, 10, 0),
                add(0, Info, 5, 2),
                add(1, Info, -1, 4),
                add(2, Info, -1, 6),
                final_read(3, 11, 10),
                final_read(4, 15, 10),
            ]
            .into_iter()
            .flatten(),
        );
        let r = check(&h);
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["acceptable"], json!([[8, 10], [13, 15]]));
        assert_eq!(r["errors"][0]["value"], json!(11));
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn only_final_ok_reads_count_and_fails_are_ignored() {
        let h = History::from_ops(
            [
                add(0, Ok, 1, 0),
                add(0, Fail, 100, 2),
                [
                    op(1, Invoke, "read", Value::Null, 3),
                    op(1, Ok, "read", json!(42), 4),
                ],
                final_read(1, 1, 10),
            ]
            .into_iter()
            .flatten(),
        );
        let r = check(&h);
        assert_eq!(r["valid?"], json!(true));
        assert_eq!(r["final-reads"], json!([1]));
    }

    #[test]
    fn touching_intervals_merge() {
        let s = RangeSet::single(0).add_maybe(1);
        assert_eq!(s.intervals(), &[(0, 1)]);
        let s = RangeSet::single(0).add_maybe(3).add_maybe(1);
        assert_eq!(s.intervals(), &[(0, 1), (3, 4)]);
    }
}
