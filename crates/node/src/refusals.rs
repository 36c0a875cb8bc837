//! What the node refuses at its door, counted, and the summary it logs at exit.

use std::fmt;
use std::time::Duration;

use gossip_transport::{Stats, Time};

/// Inputs the node dropped or trimmed instead of handing them to its replication engine,
/// counted since it started. None of them is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Replication messages (`gossip`) whose sender is not a member (not in `init`'s
    /// `node_ids`): dropped unread, no reply, nothing kept about the sender.
    pub non_member: u64,
    /// Counter deltas in gossip runs replaced by the empty delta because joining them would
    /// take the counter out of 64 bits. Their ids are still recorded, so no peer sends them
    /// again.
    pub counter_deltas: u64,
    /// Counter snapshot entries left out of a snapshot for the same reason (the rest of the
    /// snapshot is applied).
    pub counter_snapshot_entries: u64,
}

impl Refusals {
    /// `true` iff nothing was refused.
    pub fn is_empty(&self) -> bool {
        *self == Refusals::default()
    }

    pub(crate) fn add(&mut self, other: Refusals) {
        self.non_member += other.non_member;
        self.counter_deltas += other.counter_deltas;
        self.counter_snapshot_entries += other.counter_snapshot_entries;
    }
}

impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused {} gossip messages from non-members, {} counter deltas, {} counter snapshot entries",
            self.non_member, self.counter_deltas, self.counter_snapshot_entries
        )
    }
}

/// The node's counters: its replication engine's and what it refused at the door.
///
/// Displayed as the engine's figures, followed by the refusals when there were any.
#[derive(Debug, Clone, Copy)]
pub struct NodeStats<'a> {
    /// The engine's counters; `None` for a workload that does not replicate.
    pub replication: Option<&'a Stats>,
    /// What the node refused.
    pub refused: Refusals,
}

impl fmt::Display for NodeStats<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.replication {
            Some(stats) => write!(f, "{stats}")?,
            None => write!(f, "nothing replicated")?,
        }
        if !self.refused.is_empty() {
            write!(f, "; {}", self.refused)?;
        }
        Ok(())
    }
}

/// Lets a repeated warning through at most once per [`Throttle::EVERY`], so that a flood of
/// bad input cannot flood the log (and the disk) as well.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last: Option<Time>,
    held: u64,
}

impl Throttle {
    /// One line per second is plenty for a person reading the log.
    const EVERY: Duration = Duration::from_secs(1);

    /// `Some(n)` when a line may be logged at `now`, `n` being how many were held back since
    /// the last one; `None` when this one is held back.
    pub(crate) fn allow(&mut self, now: Time) -> Option<u64> {
        if self.last.is_some_and(|last| now - last < Self::EVERY) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_lets_one_line_a_second_through_and_counts_the_rest() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.allow(Time::from_millis(0)), Some(0));
        assert_eq!(throttle.allow(Time::from_millis(10)), None);
        assert_eq!(throttle.allow(Time::from_millis(999)), None);
        assert_eq!(throttle.allow(Time::from_millis(1000)), Some(2));
        assert_eq!(throttle.allow(Time::from_millis(1500)), None);
        assert_eq!(throttle.allow(Time::from_millis(5000)), Some(1));
    }

    #[test]
    fn the_summary_names_refusals_only_when_there_are_some() {
        let stats = NodeStats {
            replication: None,
            refused: Refusals::default(),
        };
        assert_eq!(stats.to_string(), "nothing replicated");
        let stats = NodeStats {
            refused: Refusals {
                non_member: 3,
                ..Refusals::default()
            },
            ..stats
        };
        assert_eq!(
            stats.to_string(),
            "nothing replicated; refused 3 gossip messages from non-members, 0 counter deltas, 0 counter snapshot entries"
        );
    }
}
