//! Op values, stored compactly: any JSON, except that an array of distinct integers (what a
//! `read` of broadcast or g-set returns) is kept as a set of integer ranges.
//!
//! A history records one read value per read. Kept as JSON arrays, the reads of a long run
//! grow quadratically (every read returns everything added so far): 1,000 nodes at 1,000 ops/s
//! for 60 s would hold about 450 million numbers. As ranges, a read of a converged node is one
//! pair. Such a value is parsed straight from the node's reply into ranges (no intermediate
//! JSON array), stored as ranges in `history.jsonl` (`{"int-ranges":[[lo,hi],...]}`, bounds
//! inclusive), and read back from either form.
//!
//! Order is not kept: set-full treats reads as sets. An array with a duplicate, or with
//! anything that is not an integer in the `i64` range, stays JSON exactly as received, so
//! nothing a node said is lost.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key of the compact form in JSON.
pub const RANGES_KEY: &str = "int-ranges";

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IntSet {
    ranges: Vec<(i64, i64)>,
    len: u64,
}

impl IntSet {
    /// The empty set.
    pub fn new() -> IntSet {
        IntSet::default()
    }

    /// The set of `values` (any order); `None` if a value repeats.
    pub fn from_values(values: &[i64]) -> Option<IntSet> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let mut set = IntSet::new();
        for v in sorted {
            if !set.push_sorted(v) {
                return None;
            }
        }
        Some(set)
    }

    /// The set from ranges (any order, overlapping or adjacent ranges merged); `None` if a
    /// range is empty (`lo > hi`).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (i64, i64)>) -> Option<IntSet> {
        let mut rs: Vec<(i64, i64)> = ranges.into_iter().collect();
        if rs.iter().any(|(lo, hi)| lo > hi) {
            return None;
        }
        rs.sort_unstable();
        let mut set = IntSet::new();
        for (lo, hi) in rs {
            match set.ranges.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => set.ranges.push((lo, hi)),
            }
        }
        set.len = set.ranges.iter().map(|(lo, hi)| span(*lo, *hi)).sum();
        Some(set)
    }

    /// Append `v`, which must be greater than every element so far. Returns `false` (and
    /// changes nothing) when it is not.
    #[inline]
    pub fn push_sorted(&mut self, v: i64) -> bool {
        self.push_sorted_run(v, v)
    }

    /// Append `lo..=hi` (`lo <= hi`), which must be greater than every element so far.
    /// Returns `false` (and changes nothing) when it is not.
    #[inline]
    pub fn push_sorted_run(&mut self, lo: i64, hi: i64) -> bool {
        match self.ranges.last_mut() {
            Some(last) if lo <= last.1 => return false,
            Some(last) if lo == last.1 + 1 => last.1 = hi,
            _ => self.ranges.push((lo, hi)),
        }
        self.len += hi.abs_diff(lo) + 1;
        true
    }

    /// The ranges, sorted, disjoint and non-adjacent, bounds inclusive.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `v` is in the set.
    pub fn contains(&self, v: i64) -> bool {
        let i = self.ranges.partition_point(|(_, hi)| *hi < v);
        self.ranges.get(i).is_some_and(|(lo, _)| *lo <= v)
    }

    /// The elements in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The set as a JSON array of its elements, in increasing order.
    pub fn to_array(&self) -> Value {
        Value::Array(self.iter().map(Value::from).collect())
    }
}

fn span(lo: i64, hi: i64) -> u64 {
    (i128::from(hi) - i128::from(lo) + 1) as u64
}

/// An op's value: JSON, or a compact integer set.
#[derive(Debug, Clone, PartialEq)]
pub enum OpValue {
    /// Anything, as received.
    Json(Value),
    /// An array of distinct integers, as a set.
    Ints(IntSet),
}

impl Default for OpValue {
    fn default() -> Self {
        OpValue::Json(Value::Null)
    }
}

impl From<Value> for OpValue {
    /// Compacts an array of distinct integers; anything else stays as it is.
    fn from(v: Value) -> OpValue {
        if let Value::Array(items) = &v {
            let mut c = Collector::default();
            for item in items {
                match item.as_i64() {
                    Some(i) => c.push(i),
                    None => return OpValue::Json(v),
                }
            }
            return c.finish();
        }
        if let Some(set) = ranges_form(&v) {
            return OpValue::Ints(set);
        }
        OpValue::Json(v)
    }
}

/// Reads the compact form `{"int-ranges": [[lo, hi], ...]}`.
fn ranges_form(v: &Value) -> Option<IntSet> {
    let m = v.as_object().filter(|m| m.len() == 1)?;
    let list = m.get(RANGES_KEY)?.as_array()?;
    let mut ranges = Vec::with_capacity(list.len());
    for r in list {
        let pair = r.as_array().filter(|p| p.len() == 2)?;
        ranges.push((pair[0].as_i64()?, pair[1].as_i64()?));
    }
    IntSet::from_ranges(ranges)
}

impl OpValue {
    /// `null`.
    pub const NULL: OpValue = OpValue::Json(Value::Null);

    /// The JSON value, if this is one (not a set).
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            OpValue::Json(v) => Some(v),
            OpValue::Ints(_) => None,
        }
    }

    /// The integer set, if this is one.
    pub fn as_ints(&self) -> Option<&IntSet> {
        match self {
            OpValue::Ints(s) => Some(s),
            OpValue::Json(_) => None,
        }
    }

    /// The value as plain JSON (a set becomes a sorted array: costly for big sets).
    pub fn to_json(&self) -> Value {
        match self {
            OpValue::Json(v) => v.clone(),
            OpValue::Ints(s) => s.to_array(),
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_json().and_then(Value::as_i64)
    }

    /// Whether this is an array (a JSON array or an integer set).
    pub fn is_array(&self) -> bool {
        match self {
            OpValue::Json(v) => v.is_array(),
            OpValue::Ints(_) => true,
        }
    }
}

impl fmt::Display for OpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("null"),
        }
    }
}

impl Serialize for OpValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OpValue::Json(v) => v.serialize(s),
            OpValue::Ints(set) => {
                struct Ranges<'a>(&'a [(i64, i64)]);
                impl Serialize for Ranges<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut seq = s.serialize_seq(Some(self.0.len()))?;
                        for (lo, hi) in self.0 {
                            seq.serialize_element(&[lo, hi])?;
                        }
                        seq.end()
                    }
                }
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(RANGES_KEY, &Ranges(set.ranges()))?;
                m.end()
            }
        }
    }
}

/// Builds a set from integers in arrival order, remembering that order only once it breaks:
/// [`Collector::finish`] is what a JSON array of exactly these integers reads as.
#[derive(Default)]
pub(crate) struct Collector {
    set: IntSet,
    /// Every value in arrival order, kept from the first out-of-order value on.
    unordered: Option<Vec<i64>>,
}

impl Collector {
    #[inline]
    pub(crate) fn push(&mut self, v: i64) {
        if let Some(all) = &mut self.unordered {
            all.push(v);
        } else if !self.set.push_sorted(v) {
            let mut all: Vec<i64> = self.set.iter().collect();
            all.push(v);
            self.unordered = Some(all);
        }
    }

    /// The values so far, in arrival order, as JSON.
    fn into_values(self) -> Vec<Value> {
        match self.unordered {
            Some(all) => all.into_iter().map(Value::from).collect(),
            None => self.set.iter().map(Value::from).collect(),
        }
    }

    /// What [`Collector::push`] does for each of `lo..=hi` (`lo <= hi`), in order.
    pub(crate) fn push_run(&mut self, lo: i64, hi: i64) {
        if self.unordered.is_some() || !self.set.push_sorted_run(lo, hi) {
            for v in lo..=hi {
                self.push(v);
            }
        }
    }

    pub(crate) fn finish(self) -> OpValue {
        match self.unordered {
            // An empty array stays one: nothing to compact, and `[]` reads better.
            None if self.set.is_empty() => OpValue::Json(Value::Array(Vec::new())),
            None => OpValue::Ints(self.set),
            Some(all) => match IntSet::from_values(&all) {
                Some(set) => OpValue::Ints(set),
                // A duplicate: keep the array exactly as received.
                None => OpValue::Json(Value::Array(all.into_iter().map(Value::from).collect())),
            },
        }
    }
}

struct OpValueVisitor;

impl<'de> Visitor<'de> for OpValueVisitor {
    type Value = OpValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<OpValue, E> {
        Ok(OpValue::Json(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<OpValue, E> {
        Ok(OpValue::NULL)
    }

    fn visit_none<E: de::Error>(self) -> Result<OpValue, E> {
        Ok(OpValue::NULL)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OpValue, D::Error> {
        d.deserialize_any(OpValueVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OpValue, A::Error> {
        // Integers go straight into the set; at the first anything-else, fall back to JSON.
        let mut c = Collector::default();
        while let Some(item) = seq.next_element::<Value>()? {
            match item.as_i64() {
                Some(i) => c.push(i),
                None => {
                    let mut values = c.into_values();
                    values.push(item);
                    while let Some(rest) = seq.next_element::<Value>()? {
                        values.push(rest);
                    }
                    return Ok(OpValue::Json(Value::Array(values)));
                }
            }
        }
        Ok(c.finish())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OpValue, A::Error> {
        let mut m = Map::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            m.insert(k, v);
        }
        let v = Value::Object(m);
        Ok(match ranges_form(&v) {
            Some(set) => OpValue::Ints(set),
            None => OpValue::Json(v),
        })
    }
}

impl<'de> Deserialize<'de> for OpValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OpValue, D::Error> {
        d.deserialize_any(OpValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> OpValue {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn integer_arrays_become_ranges() {
        let v = parse("[0,1,2,3,7,8,10]");
        let Some(set) = v.as_ints() else {
            panic!("expected a set, got {v:?}")
        };
        assert_eq!(set.ranges(), &[(0, 3), (7, 8), (10, 10)]);
        assert_eq!(set.len(), 7);
        assert!(set.contains(8) && !set.contains(9) && !set.contains(-1));
        assert_eq!(v.to_string(), r#"{"int-ranges":[[0,3],[7,8],[10,10]]}"#);
        // Round trip through the compact form, and from the plain array too.
        assert_eq!(parse(&v.to_string()), v);
        assert_eq!(OpValue::from(json!([0, 1, 2, 3, 7, 8, 10])), v);
        assert_eq!(set.to_array(), json!([0, 1, 2, 3, 7, 8, 10]));
        assert_eq!(parse("[]"), OpValue::Json(json!([])));
        assert_eq!(OpValue::from(json!([])), OpValue::Json(json!([])));
    }

    #[test]
    fn order_is_dropped_but_duplicates_and_other_values_are_kept() {
        assert_eq!(parse("[3,1,2]"), parse("[1,2,3]"));
        assert_eq!(parse("[1,2,1]"), OpValue::Json(json!([1, 2, 1])));
        assert_eq!(parse("[5,1,1]"), OpValue::Json(json!([5, 1, 1])));
        assert_eq!(parse(r#"[1,"x",2]"#), OpValue::Json(json!([1, "x", 2])));
        assert_eq!(parse("[3,1,2.5]"), OpValue::Json(json!([3, 1, 2.5])));
        let big = u64::MAX;
        assert_eq!(parse(&format!("[1,{big}]")), OpValue::Json(json!([1, big])));
        assert_eq!(parse("-4").as_i64(), Some(-4));
        assert_eq!(parse(r#"{"a":[1]}"#), OpValue::Json(json!({"a": [1]})));
        assert_eq!(parse("null"), OpValue::NULL);
    }

    #[test]
    fn a_run_goes_in_as_its_integers_one_by_one() {
        // Rising runs, adjacent runs, a run below the last element (order breaks), repeats.
        let cases: [&[(i64, i64)]; 5] = [
            &[(0, 3), (4, 9), (20, 20)],
            &[(-5, -1), (0, 0), (2, 7)],
            &[(10, 12), (3, 5), (13, 14)],
            &[(1, 4), (4, 6)],
            &[(7, 7), (1, 2), (1, 2)],
        ];
        for runs in cases {
            let mut by_run = Collector::default();
            let mut by_one = Collector::default();
            for &(lo, hi) in runs {
                by_run.push_run(lo, hi);
                for v in lo..=hi {
                    by_one.push(v);
                }
            }
            assert_eq!(by_run.finish(), by_one.finish(), "{runs:?}");
        }
    }

    #[test]
    fn ranges_merge() {
        let s = IntSet::from_ranges([(5, 9), (0, 2), (3, 3), (8, 12)]);
        assert_eq!(s.map(|s| s.ranges().to_vec()), Some(vec![(0, 3), (5, 12)]));
        assert!(IntSet::from_ranges([(2, 1)]).is_none());
        assert_eq!(IntSet::from_values(&[4, 2, 3]).map(|s| s.len()), Some(3));
        assert!(IntSet::from_values(&[4, 2, 4]).is_none());
    }
}
