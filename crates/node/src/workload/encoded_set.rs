//! A set of integers as JSON text, kept between reads.
//!
//! A `read` of broadcast or g-set returns every element, so late in a long run each read
//! encodes tens of thousands of integers, nearly all of them the same as the last read's. Such
//! a set mostly grows at its top (clients issue messages and elements in rising order), so the
//! text of every element up to some point is kept, and a read encodes only what lies above it.
//! The point stays [`TAIL`] elements below the top, where late arrivals land; one that lands
//! below it makes the next read encode everything again.

use std::ops::Bound;

use gossip_crdt::GSet;

/// How many of the highest elements stay out of the kept text.
const TAIL: usize = 1024;

/// The JSON text of a [`GSet<i64>`]'s lower elements, to encode reads of it cheaply.
#[derive(Debug, Default)]
pub(crate) struct EncodedSet {
    /// `e1,e2,...,en` (no brackets) for every element up to `upto`.
    text: String,
    /// The highest element in `text`, if any.
    upto: Option<i64>,
    /// How many elements `text` holds.
    count: usize,
}

impl EncodedSet {
    /// `set` as a JSON array, ascending: exactly what `serde_json` writes for it. `set` must
    /// only ever have grown since the last call (a G-Set does).
    pub(crate) fn encode(&mut self, set: &GSet<i64>) -> String {
        let mut above = set.range((self.above_kept(), Bound::Unbounded)).count();
        if set.len() - above != self.count {
            // Something arrived below the kept point: start over.
            *self = EncodedSet::default();
            above = set.len();
        }
        if above > 2 * TAIL
            && let Some(&upto) = set.iter().rev().nth(TAIL)
        {
            let from = self.above_kept();
            self.count += push_elements(&mut self.text, set.range((from, Bound::Included(upto))));
            self.upto = Some(upto);
        }
        let mut out = String::with_capacity(self.text.len() + 16 * TAIL);
        out.push('[');
        out.push_str(&self.text);
        push_elements(&mut out, set.range((self.above_kept(), Bound::Unbounded)));
        out.push(']');
        out
    }

    /// The bound just above the kept elements.
    fn above_kept(&self) -> Bound<i64> {
        self.upto.map_or(Bound::Unbounded, Bound::Excluded)
    }
}

/// `elements` as a JSON array, exactly as `serde_json` writes it.
pub(crate) fn json_array<'a>(elements: impl Iterator<Item = &'a i64>) -> String {
    let mut out = String::from("[");
    push_elements(&mut out, elements);
    out.push(']');
    out
}

/// Appends `elements` to a comma-separated list; returns how many.
fn push_elements<'a>(out: &mut String, elements: impl Iterator<Item = &'a i64>) -> usize {
    let mut n = 0;
    let mut digits = itoa::Buffer::new();
    for &e in elements {
        if !(out.is_empty() || out.ends_with('[')) {
            out.push(',');
        }
        out.push_str(digits.format(e));
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(set: &GSet<i64>) -> String {
        serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap_or_default()
    }

    #[test]
    fn reads_equal_a_fresh_encoding_however_the_set_grew() {
        let mut encoded = EncodedSet::default();
        let mut set = GSet::new();
        assert_eq!(encoded.encode(&set), "[]");
        // Rising values, with late arrivals just below the top and now and then far below it
        // (which forces a fresh encoding), and negative numbers.
        let mut rng = 7u64;
        for i in 0..20_000i64 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = match rng >> 60 {
                0 => -i,
                1 => i - (rng >> 40) as i64 % 3000,
                _ => i,
            };
            set.insert(value);
            if i % 997 == 0 || rng >> 58 == 0 {
                assert_eq!(encoded.encode(&set), json(&set), "after {i} inserts");
            }
        }
        assert!(encoded.count > 0, "the lower part was kept");
        assert_eq!(encoded.encode(&set), json(&set));
    }

    #[test]
    fn the_kept_text_grows_by_appending() {
        let mut encoded = EncodedSet::default();
        let mut set: GSet<i64> = (0..3 * TAIL as i64).collect();
        assert_eq!(encoded.encode(&set), json(&set));
        let kept = encoded.count;
        assert_eq!(kept, 2 * TAIL, "all but the tail is kept");
        for v in 3 * TAIL as i64..6 * TAIL as i64 {
            set.insert(v);
        }
        assert_eq!(encoded.encode(&set), json(&set));
        assert_eq!(encoded.count, 5 * TAIL, "the kept point moved up");
        // A late element below the kept point: encoded from scratch, still right.
        set.insert(-1);
        assert_eq!(encoded.encode(&set), json(&set));
    }
}
