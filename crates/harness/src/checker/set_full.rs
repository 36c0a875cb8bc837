//! Jepsen's `set-full` checker, as Maelstrom runs it for broadcast and g-set.
//!
//! Every element is created at its add invocation. It becomes *known* at the first of its add's
//! ok completion or the first ok read containing it. Each ok read, when its completion is
//! processed, marks every element created so far as present or absent, remembering the read
//! *invocation* with the highest index. Outcomes: stable (last present after last absent), lost
//! (known, then absent from a read invoked later, and never seen again), never-read otherwise.
//! Reproduced exactly, including its quirks: values nobody added are ignored and duplicates are
//! never reported.
//!
//! Cost: elements are numbered in creation order, and every per-element fact is a minimum or
//! a maximum over reads (known: the earliest position; last present / last absent: the latest
//! invocation), so a read applies as range updates on a tag tree: present ranges and the gaps
//! between them. A read stored as integer ranges ([`IntSet`](crate::value::IntSet)) over elements whose values are
//! their creation numbers (broadcast and g-set add 0, 1, 2, ...) costs O(ranges · log n)
//! instead of O(elements); anything else is mapped value by value.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Validity, quantile_map};
use crate::history::{History, Op, OpType, Process};
use crate::value::OpValue;

/// An ordering key for element values: integers numerically, anything else by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Int(i128),
    Other(String),
}

fn key(v: &Value) -> Key {
    if let Some(i) = v.as_i64() {
        Key::Int(i128::from(i))
    } else if let Some(u) = v.as_u64() {
        Key::Int(i128::from(u))
    } else {
        Key::Other(v.to_string())
    }
}

/// Element value → position. Small non-negative integers (what the workloads add: 0, 1, 2,
/// ...) are looked up in a vector, anything else in a hash map.
#[derive(Default)]
struct Index {
    small: Vec<usize>,
    other: HashMap<Key, usize>,
    /// Whether element `i` is the integer `i`, for every element so far.
    identity: bool,
    count: usize,
}

/// Values below this go in [`Index::small`].
const SMALL: u64 = 1 << 24;

impl Index {
    fn new() -> Index {
        Index {
            identity: true,
            ..Index::default()
        }
    }

    fn get_int(&self, i: i64) -> Option<usize> {
        match u64::try_from(i) {
            Ok(u) if u < SMALL => self
                .small
                .get(u as usize)
                .copied()
                .filter(|i| *i != usize::MAX),
            _ => self.other.get(&Key::Int(i128::from(i))).copied(),
        }
    }

    fn get(&self, v: &Value) -> Option<usize> {
        match v.as_u64() {
            Some(u) if u < SMALL => self
                .small
                .get(u as usize)
                .copied()
                .filter(|i| *i != usize::MAX),
            _ => self.other.get(&key(v)).copied(),
        }
    }

    /// Add `v` as the next element (unless known); returns whether it was new.
    fn add(&mut self, v: &Value) -> bool {
        if self.get(v).is_some() {
            return false;
        }
        let i = self.count;
        self.count += 1;
        if v.as_u64() != Some(i as u64) {
            self.identity = false;
        }
        match v.as_u64() {
            Some(u) if u < SMALL => {
                let u = u as usize;
                if self.small.len() <= u {
                    self.small.resize(u + 1, usize::MAX);
                }
                self.small[u] = i;
            }
            _ => {
                self.other.insert(key(v), i);
            }
        }
        true
    }
}

/// Range updates, point results: three tags per tree node (earliest known position, latest
/// present and latest absent read invocation). Every update is a min or a max, so tags never
/// need pushing down until the end.
struct Tags {
    size: usize,
    known: Vec<usize>,
    present: Vec<usize>,
    absent: Vec<usize>,
}

/// What the tags end up saying of one element: known, last present, last absent.
type Facts = (Option<usize>, Option<usize>, Option<usize>);

/// "Nothing yet" (no history position is this large).
const NONE: usize = usize::MAX;

#[derive(Clone, Copy)]
enum Tag {
    Known(usize),
    Present(usize),
    Absent(usize),
}

impl Tags {
    fn new(n: usize) -> Tags {
        let size = n.next_power_of_two().max(1);
        Tags {
            size,
            known: vec![NONE; 2 * size],
            present: vec![NONE; 2 * size],
            absent: vec![NONE; 2 * size],
        }
    }

    fn apply(&mut self, node: usize, tag: Tag) {
        let max = |slot: &mut usize, v: usize| {
            if *slot == NONE || *slot < v {
                *slot = v;
            }
        };
        match tag {
            Tag::Known(p) => self.known[node] = self.known[node].min(p),
            Tag::Present(p) => max(&mut self.present[node], p),
            Tag::Absent(p) => max(&mut self.absent[node], p),
        }
    }

    /// Apply `tag` to elements `lo..hi`.
    fn update(&mut self, lo: usize, hi: usize, tag: Tag) {
        let (mut l, mut r) = (lo + self.size, hi + self.size);
        while l < r {
            if l & 1 == 1 {
                self.apply(l, tag);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                self.apply(r, tag);
            }
            l >>= 1;
            r >>= 1;
        }
    }

    /// Push every tag down to the leaves; returns (known, present, absent) per element.
    fn finish(mut self, n: usize) -> Vec<Facts> {
        for node in 1..self.size {
            for child in [2 * node, 2 * node + 1] {
                let (k, p, a) = (self.known[node], self.present[node], self.absent[node]);
                if k != NONE {
                    self.apply(child, Tag::Known(k));
                }
                if p != NONE {
                    self.apply(child, Tag::Present(p));
                }
                if a != NONE {
                    self.apply(child, Tag::Absent(a));
                }
            }
        }
        let some = |v: usize| (v != NONE).then_some(v);
        (0..n)
            .map(|i| {
                let leaf = self.size + i;
                (
                    some(self.known[leaf]),
                    some(self.present[leaf]),
                    some(self.absent[leaf]),
                )
            })
            .collect()
    }
}

/// The elements of a read among the first `m`, as sorted disjoint half-open ranges of element
/// positions.
fn present_ranges(index: &Index, m: usize, value: &OpValue, out: &mut Vec<(usize, usize)>) {
    out.clear();
    match value {
        OpValue::Ints(set) if index.identity => {
            for &(lo, hi) in set.ranges() {
                let lo = lo.max(0) as u64;
                let hi = u64::try_from(hi).map_or(0, |h| h + 1).min(m as u64);
                if lo < hi {
                    out.push((lo as usize, hi as usize));
                }
            }
        }
        OpValue::Ints(set) => {
            positions_to_ranges(set.iter().filter_map(|v| index.get_int(v)), m, out)
        }
        OpValue::Json(Value::Array(items)) => {
            positions_to_ranges(items.iter().filter_map(|v| index.get(v)), m, out);
        }
        OpValue::Json(_) => {}
    }
}

fn positions_to_ranges(
    positions: impl Iterator<Item = usize>,
    m: usize,
    out: &mut Vec<(usize, usize)>,
) {
    let mut ps: Vec<usize> = positions.filter(|p| *p < m).collect();
    ps.sort_unstable();
    ps.dedup();
    for p in ps {
        match out.last_mut() {
            Some(last) if last.1 == p => last.1 = p + 1,
            _ => out.push((p, p + 1)),
        }
    }
}

/// The outcome of one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Visible in every read since some point.
    Stable,
    /// Known, then missing from every read from some point on.
    Lost,
    /// Neither.
    NeverRead,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Stable => "stable",
            Outcome::Lost => "lost",
            Outcome::NeverRead => "never-read",
        }
    }
}

/// One element's result.
#[derive(Debug, Clone)]
pub struct ElementResult {
    /// The element.
    pub element: Value,
    /// Its outcome.
    pub outcome: Outcome,
    /// Milliseconds from known to stable, if stable.
    pub stable_latency: Option<u64>,
    /// Milliseconds from known to lost, if lost.
    pub lost_latency: Option<u64>,
    known: Option<usize>,
    last_absent: Option<usize>,
}

fn idx(i: Option<usize>) -> i64 {
    i.map_or(-1, |i| i as i64)
}

/// Per-element results, sorted by element.
pub fn element_results(history: &History, add_f: &str) -> Vec<ElementResult> {
    let ops = history.ops();
    // Pass 1: number the elements in creation order; note each ok read with its invocation
    // and how many elements existed when it completed, and each add's ok completion.
    let mut index = Index::new();
    let mut values: Vec<Value> = Vec::new();
    let mut read_invocations: HashMap<u64, usize> = HashMap::new();
    // (completion position, invocation position, elements created so far)
    let mut reads: Vec<(usize, usize, usize)> = Vec::new();
    let mut add_oks: Vec<(usize, usize)> = Vec::new();
    for (pos, op) in ops.iter().enumerate() {
        let Process::Worker(process) = op.process else {
            continue;
        };
        if op.f == add_f {
            let Some(v) = op.value.as_json() else {
                continue;
            };
            match op.kind {
                OpType::Invoke if index.add(v) => values.push(v.clone()),
                OpType::Ok => {
                    if let Some(e) = index.get(v) {
                        add_oks.push((e, pos));
                    }
                }
                _ => {}
            }
        } else if op.f == "read" {
            match op.kind {
                OpType::Invoke => {
                    read_invocations.insert(process, pos);
                }
                OpType::Ok => {
                    if let Some(&inv) = read_invocations.get(&process) {
                        reads.push((pos, inv, index.count));
                    }
                }
                _ => {}
            }
        }
    }
    // Pass 2: apply the reads as range updates.
    let n = values.len();
    let mut tags = Tags::new(n);
    for (e, pos) in add_oks {
        tags.update(e, e + 1, Tag::Known(pos));
    }
    let mut present = Vec::new();
    for (pos, inv, m) in reads {
        present_ranges(&index, m, &ops[pos].value, &mut present);
        let mut from = 0;
        for &(lo, hi) in &present {
            tags.update(lo, hi, Tag::Known(pos));
            tags.update(lo, hi, Tag::Present(inv));
            if from < lo {
                tags.update(from, lo, Tag::Absent(inv));
            }
            from = hi;
        }
        if from < m {
            tags.update(from, m, Tag::Absent(inv));
        }
    }
    let facts = tags.finish(n);
    let mut elements: Vec<(Value, Facts)> = values.into_iter().zip(facts).collect();
    elements.sort_by_cached_key(|(v, _)| key(v));
    let time = |i: Option<usize>| i.and_then(|i| ops.get(i)).map(|o: &Op| o.time);
    elements
        .into_iter()
        .map(|(value, (known, last_present, last_absent))| {
            let (absent, present, known_i) = (idx(last_absent), idx(last_present), idx(known));
            let stable = last_present.is_some() && absent < present;
            let lost =
                known.is_some() && last_absent.is_some() && present < absent && known_i < absent;
            let known_time = time(known).unwrap_or(0);
            let stable_time = time(last_absent).map_or(0, |t| t + 1);
            let lost_time = time(last_present).map_or(0, |t| t + 1);
            let ms = |t: u64| t.saturating_sub(known_time) / 1_000_000;
            ElementResult {
                element: value,
                outcome: if stable {
                    Outcome::Stable
                } else if lost {
                    Outcome::Lost
                } else {
                    Outcome::NeverRead
                },
                stable_latency: stable.then(|| ms(stable_time)),
                lost_latency: lost.then(|| ms(lost_time)),
                known,
                last_absent,
            }
        })
        .collect()
}

/// Run set-full over `history`, treating ops with `f == add_f` as adds.
pub fn check(history: &History, add_f: &str) -> Value {
    let results = element_results(history, add_f);
    let of = |o: Outcome| results.iter().filter(move |r| r.outcome == o);
    let lost: Vec<Value> = of(Outcome::Lost).map(|r| r.element.clone()).collect();
    let never_read: Vec<Value> = of(Outcome::NeverRead).map(|r| r.element.clone()).collect();
    let stable_count = of(Outcome::Stable).count();
    let mut stale: Vec<&ElementResult> = of(Outcome::Stable)
        .filter(|r| r.stable_latency.unwrap_or(0) > 0)
        .collect();
    let stale_values: Vec<Value> = stale.iter().map(|r| r.element.clone()).collect();
    stale.sort_by_key(|r| std::cmp::Reverse(r.stable_latency));
    let ops = history.ops();
    let op_json = |i: Option<usize>| i.and_then(|i| ops.get(i)).map_or(Value::Null, |o| json!(o));
    let worst_stale: Vec<Value> = stale
        .iter()
        .take(8)
        .map(|r| {
            json!({
                "element": r.element,
                "outcome": r.outcome.name(),
                "stable-latency": r.stable_latency,
                "lost-latency": r.lost_latency,
                "known": op_json(r.known),
                "last-absent": op_json(r.last_absent),
            })
        })
        .collect();
    let valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable_count == 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut out = json!({
        "valid?": valid.to_json(),
        "attempt-count": results.len(),
        "stable-count": stable_count,
        "lost-count": lost.len(),
        "lost": lost,
        "never-read-count": never_read.len(),
        "never-read": never_read,
        "stale-count": stale_values.len(),
        "stale": stale_values,
        "worst-stale": worst_stale,
        "duplicated-count": 0,
        "duplicated": {},
    });
    let stable_lat: Vec<u64> = of(Outcome::Stable)
        .filter_map(|r| r.stable_latency)
        .collect();
    let lost_lat: Vec<u64> = of(Outcome::Lost).filter_map(|r| r.lost_latency).collect();
    if let Some(m) = out.as_object_mut() {
        if !stable_lat.is_empty() {
            m.insert("stable-latencies".to_owned(), quantile_map(&stable_lat));
        }
        if !lost_lat.is_empty() {
            m.insert("lost-latencies".to_owned(), quantile_map(&lost_lat));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use OpType::*;

    fn read(p: u64, kind: OpType, v: Value, t: u64) -> Op {
        op(p, kind, "read", v, t)
    }

    fn outcome_of(h: &History, e: u64) -> Option<(Outcome, Option<u64>, Option<u64>)> {
        element_results(h, "add")
            .into_iter()
            .find(|r| r.element == json!(e))
            .map(|r| (r.outcome, r.stable_latency, r.lost_latency))
    }

    #[test]
    fn empty_history_is_unknown() {
        let r = check(&History::new(), "add");
        assert_eq!(r["valid?"], json!("unknown"));
        assert_eq!(r["attempt-count"], json!(0));
        assert!(r.get("stable-latencies").is_none());
    }

    #[test]
    fn stable_with_zero_latency() {
        // add 1 ok at 10 ms; a read invoked after sees it.
        let h = History::from_ops([
            op(0, Invoke, "add", json!(1), 0),
            op(0, Ok, "add", json!(1), 10),
            read(1, Invoke, Value::Null, 20),
            read(1, Ok, json!([1]), 30),
        ]);
        assert_eq!(outcome_of(&h, 1), Some((Outcome::Stable, Some(0), None)));
        let r = check(&h, "add");
        assert_eq!(r["valid?"], json!(true));
        assert_eq!(r["stable-count"], json!(1));
        assert_eq!(r["stale-count"], json!(0));
        assert_eq!(
            r["stable-latencies"],
            json!({"0":0,"0.5":0,"0.95":0,"0.99":0,"1":0})
        );
    }

    #[test]
    fn stale_element_has_positive_latency() {
        // Known at 10 ms (add ok); a read invoked at 20 ms misses it; one invoked at 40 ms sees it.
        // stable time = last-absent invoke time + 1 ns = 20 ms → latency 10 ms.
        let h = History::from_ops([
            op(0, Invoke, "add", json!(7), 0),
            op(0, Ok, "add", json!(7), 10),
            read(1, Invoke, Value::Null, 20),
            read(1, Ok, json!([]), 25),
            read(2, Invoke, Value::Null, 40),
            read(2, Ok, json!([7]), 45),
        ]);
        assert_eq!(outcome_of(&h, 7), Some((Outcome::Stable, Some(10), None)));
        let r = check(&h, "add");
        assert_eq!(r["stale-count"], json!(1));
        assert_eq!(r["stale"], json!([7]));
        assert_eq!(r["worst-stale"][0]["stable-latency"], json!(10));
        assert_eq!(r["worst-stale"][0]["known"]["index"], json!(1));
        assert_eq!(r["worst-stale"][0]["last-absent"]["index"], json!(2));
        assert_eq!(r["valid?"], json!(true));
    }

    #[test]
    fn lost_element_invalidates() {
        // Seen by one read, then missing from a read invoked later: lost.
        let h = History::from_ops([
            op(0, Invoke, "add", json!(3), 0),
            op(0, Ok, "add", json!(3), 5),
            read(1, Invoke, Value::Null, 10),
            read(1, Ok, json!([3]), 12),
            read(2, Invoke, Value::Null, 20),
            read(2, Ok, json!([]), 22),
        ]);
        // lost time = last-present invoke (10 ms) + 1 ns; known at 5 ms → 5 ms.
        assert_eq!(outcome_of(&h, 3), Some((Outcome::Lost, None, Some(5))));
        let r = check(&h, "add");
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["lost-count"], json!(1));
        assert_eq!(r["lost"], json!([3]));
        assert_eq!(r["lost-latencies"]["1"], json!(5));
    }

    #[test]
    fn never_read_outcomes() {
        let h = History::from_ops([
            // An info add that no read ever shows: never-read (not lost, since never known).
            op(0, Invoke, "add", json!(1), 0),
            op(0, Info, "add", json!(1), 5),
            // An ok add with no read after it: never-read.
            op(3, Invoke, "add", json!(2), 6),
            op(3, Ok, "add", json!(2), 7),
            read(1, Invoke, Value::Null, 1),
            read(1, Ok, json!([]), 6),
        ]);
        // Element 2 is known at index 3 and the read invoked at index 4 misses it: lost.
        let r = element_results(&h, "add");
        assert_eq!(r[0].outcome, Outcome::NeverRead);
        assert_eq!(r[1].outcome, Outcome::Lost);
        let h2 = History::from_ops([
            op(3, Invoke, "add", json!(2), 6),
            op(3, Ok, "add", json!(2), 7),
        ]);
        let c = check(&h2, "add");
        assert_eq!(c["never-read"], json!([2]));
        assert_eq!(c["never-read-count"], json!(1));
        assert_eq!(c["valid?"], json!("unknown"));
    }

    #[test]
    fn read_invoked_before_add_completes_counts_absent_but_not_lost() {
        // Read invoked (index 0) before the add is invoked; completes after the add is known.
        // Its invocation index is below known's, so the element is not lost.
        let h = History::from_ops([
            read(1, Invoke, Value::Null, 0),
            op(0, Invoke, "add", json!(5), 1),
            op(0, Ok, "add", json!(5), 2),
            read(1, Ok, json!([]), 3),
        ]);
        assert_eq!(outcome_of(&h, 5), Some((Outcome::NeverRead, None, None)));
    }

    #[test]
    fn unexpected_values_and_failed_reads_are_ignored() {
        let h = History::from_ops([
            op(0, Invoke, "add", json!(1), 0),
            op(0, Ok, "add", json!(1), 1),
            read(1, Invoke, Value::Null, 2),
            read(1, Fail, Value::Null, 3),
            read(1, Invoke, Value::Null, 4),
            read(1, Ok, json!([1, 99, 1]), 5),
        ]);
        let r = check(&h, "add");
        assert_eq!(r["attempt-count"], json!(1));
        assert_eq!(r["stable-count"], json!(1));
        assert_eq!(r["duplicated-count"], json!(0));
        assert_eq!(r["valid?"], json!(true));
    }

    #[test]
    fn non_integer_and_huge_elements_work_too() {
        let big = json!(u64::MAX);
        let h = History::from_ops([
            op(0, Invoke, "add", json!("x"), 0),
            op(0, Ok, "add", json!("x"), 1),
            op(1, Invoke, "add", big.clone(), 0),
            op(1, Ok, "add", big.clone(), 1),
            op(2, Invoke, "add", json!(-3), 0),
            op(2, Ok, "add", json!(-3), 1),
            read(3, Invoke, Value::Null, 2),
            read(3, Ok, json!(["x", -3]), 3),
        ]);
        let r = check(&h, "add");
        assert_eq!(r["stable-count"], json!(2));
        assert_eq!(r["lost"], json!([big]));
        // Output is sorted: integers numerically, then other values.
        let all: Vec<Value> = element_results(&h, "add")
            .into_iter()
            .map(|e| e.element)
            .collect();
        assert_eq!(all, [json!(-3), big, json!("x")]);
    }

    #[test]
    fn broadcast_counts_as_add() {
        let h = History::from_ops([
            op(0, Invoke, "broadcast", json!(0), 0),
            op(0, Ok, "broadcast", json!(0), 1),
            read(0, Invoke, Value::Null, 2),
            read(0, Ok, json!([0]), 3),
        ]);
        assert_eq!(check(&h, "broadcast")["stable-count"], json!(1));
    }
}
