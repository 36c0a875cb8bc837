//! Numbered slots kept densely: the delta log's store for one origin.
//!
//! An origin numbers its deltas 1, 2, 3, ...; a replica receives them mostly in order and drops
//! them from the oldest end, so a ring buffer indexed by number does what a search tree did
//! with no search, no rebalancing on removal, and no tree node per few entries. Every replica
//! stores every delta it has not yet dropped, so this is the hottest store in a large cluster.
//!
//! Gaps (numbers not held, e.g. still on their way) are empty slots. A number so far from the
//! held ones that storing it would make the window mostly gaps is refused: only a corrupt or
//! hostile counter gets there, and the caller then treats it as dropped.

use std::collections::VecDeque;

/// A window may span at most this many slots beyond twice its held entries: dense windows
/// grow freely, and one far-off number cannot make a replica allocate the gap before it.
const SLACK: u64 = 1024;

/// Entries numbered by `u64`, stored in a ring buffer from the lowest held number.
#[derive(Debug, Clone)]
pub(crate) struct Window<T> {
    /// The number of `slots[0]`; meaningless while empty.
    base: u64,
    /// Both ends are held entries whenever any entry is held.
    slots: VecDeque<Option<T>>,
    len: usize,
}

impl<T> Window<T> {
    pub(crate) fn new() -> Self {
        Window {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }

    /// How many entries are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many slots are allocated, gaps included.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lowest number held, and its entry.
    pub(crate) fn first(&self) -> Option<(u64, &T)> {
        self.slots.front()?.as_ref().map(|item| (self.base, item))
    }

    /// The highest number held.
    pub(crate) fn last(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.base + self.slots.len() as u64 - 1)
    }

    pub(crate) fn get(&self, n: u64) -> Option<&T> {
        let i = usize::try_from(n.checked_sub(self.base)?).ok()?;
        self.slots.get(i)?.as_ref()
    }

    /// Stores `item` as number `n`. Gives it back if `n` is held already, or so far from the
    /// held numbers that the window would be mostly gaps.
    pub(crate) fn insert(&mut self, n: u64, item: T) -> Result<(), T> {
        if self.is_empty() {
            self.slots.clear();
            self.base = n;
            self.slots.push_back(Some(item));
            self.len = 1;
            return Ok(());
        }
        let first = self.base;
        let last = first + self.slots.len() as u64 - 1;
        let span = if n < first {
            last - n + 1
        } else {
            n.max(last) - first + 1
        };
        if span > 2 * (self.len as u64 + 1) + SLACK {
            return Err(item);
        }
        if n < first {
            // `span` is small, so the gap is too.
            for _ in n..first - 1 {
                self.slots.push_front(None);
            }
            self.slots.push_front(Some(item));
            self.base = n;
        } else if n > last {
            for _ in last + 1..n {
                self.slots.push_back(None);
            }
            self.slots.push_back(Some(item));
        } else {
            let slot = &mut self.slots[(n - first) as usize];
            if slot.is_some() {
                return Err(item);
            }
            *slot = Some(item);
        }
        self.len += 1;
        Ok(())
    }

    /// Removes and returns number `n`, if held.
    pub(crate) fn remove(&mut self, n: u64) -> Option<T> {
        let i = usize::try_from(n.checked_sub(self.base)?).ok()?;
        let item = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        // Keep both ends held.
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.base += 1;
        }
        while self.slots.back().is_some_and(Option::is_none) {
            self.slots.pop_back();
        }
        Some(item)
    }

    /// The held entries numbered `from` or more, in order.
    pub(crate) fn iter_from(&self, from: u64) -> impl Iterator<Item = (u64, &T)> + '_ {
        let skip = usize::try_from(from.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(move |(i, slot)| slot.as_ref().map(|item| (base + i as u64, item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(w: &Window<char>) -> Vec<(u64, char)> {
        w.iter_from(0).map(|(n, c)| (n, *c)).collect()
    }

    #[test]
    fn holds_numbers_in_any_order_with_gaps() {
        let mut w = Window::new();
        assert_eq!(w.last(), None);
        assert_eq!(w.insert(5, 'e'), Ok(()));
        assert_eq!(w.insert(7, 'g'), Ok(()));
        assert_eq!(w.insert(3, 'c'), Ok(()));
        assert_eq!(w.insert(6, 'f'), Ok(()));
        assert_eq!(w.insert(6, 'x'), Err('x'), "a held number is not replaced");
        assert_eq!(held(&w), vec![(3, 'c'), (5, 'e'), (6, 'f'), (7, 'g')]);
        assert_eq!((w.len(), w.last()), (4, Some(7)));
        assert_eq!(w.get(4), None);
        assert_eq!(w.get(5), Some(&'e'));
        assert_eq!(w.get(2), None);
        assert_eq!(w.get(u64::MAX), None);
        assert_eq!(
            w.iter_from(6).map(|(n, _)| n).collect::<Vec<_>>(),
            vec![6, 7]
        );
        assert_eq!(w.iter_from(u64::MAX).count(), 0);
    }

    #[test]
    fn removing_keeps_both_ends_held() {
        let mut w = Window::new();
        for (n, c) in [(1, 'a'), (2, 'b'), (4, 'd'), (6, 'f')] {
            assert_eq!(w.insert(n, c), Ok(()));
        }
        assert_eq!(w.remove(3), None);
        assert_eq!(w.remove(1), Some('a'));
        assert_eq!(w.remove(2), Some('b'));
        assert_eq!(w.get(4), Some(&'d'));
        assert_eq!(w.first(), Some((4, &'d')), "the gap before 4 is gone");
        assert_eq!(w.remove(6), Some('f'));
        assert_eq!((w.len(), w.last()), (1, Some(4)));
        assert_eq!(w.remove(4), Some('d'));
        assert!(w.is_empty());
        assert_eq!(w.last(), None);
        // Empty again: any number starts a new window.
        assert_eq!(w.insert(1_000_000, 'z'), Ok(()));
        assert_eq!(held(&w), vec![(1_000_000, 'z')]);
    }

    #[test]
    fn refuses_a_number_that_would_make_the_window_mostly_gaps() {
        let mut w = Window::new();
        assert_eq!(w.insert(10, 'a'), Ok(()));
        assert_eq!(w.insert(u64::MAX, 'b'), Err('b'));
        assert_eq!(w.insert(u64::MAX - 1, 'b'), Err('b'));
        assert_eq!(w.insert(1, 'c'), Ok(()), "a small gap is fine");
        assert_eq!(w.insert(10 + 3 * SLACK, 'd'), Err('d'));
        // A dense window grows without limit.
        for n in 11..10_000 {
            assert_eq!(w.insert(n, 'x'), Ok(()));
        }
        assert_eq!(w.insert(12_000, 'e'), Ok(()));
        assert_eq!(w.len(), 10_000 - 11 + 3);
    }
}
