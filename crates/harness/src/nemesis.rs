//! The nemesis schedule, generalised to several faults.
//!
//! With `--nemesis partition` alone this is exactly Maelstrom's: alternate start and stop,
//! first start at t≈0, gaps uniform in `[0, 2·interval)`, each start picking one of the four
//! partition shapes uniformly (the same draws from the same generator, so a seed gives the
//! same partitions as before faults were added). With several faults (`--nemesis
//! partition,kill,pause,slow`) each op first picks one of them uniformly, as Jepsen's combined
//! nemesis mixes its packages, and toggles it: a fault that is off starts, one that is on
//! stops. The fault pick and the targets are drawn from a second generator.
//!
//! | fault | start | stop |
//! |---|---|---|
//! | `partition` | cut the network (one of four shapes) | heal |
//! | `kill` | kill one node or a minority; their state is lost | restart them (fresh state, new incarnation) |
//! | `pause` | pause one node or a minority (SIGSTOP; messages queue up) | resume them |
//! | `slow` | latency spike on one node, a minority, or everyone | back to normal |
//! | `crash` | crash one node or a minority: memory lost, disk kept (`--sim-disk`) | restart them from their disks |

use std::time::Duration;

use rand::RngExt;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::ids::NodeIndex;
use crate::partition::PartitionSpec;
use crate::time::Time;

/// A fault the nemesis can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Network partitions.
    Partition,
    /// Kill nodes (state lost), later restart them.
    Kill,
    /// Pause nodes, later resume them.
    Pause,
    /// Latency spikes.
    Slow,
    /// Crash nodes (memory lost, disk kept), later restart them from their disks.
    Crash,
}

impl FaultKind {
    /// Every fault, in a fixed order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Slow,
        FaultKind::Crash,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Slow => "slow",
            FaultKind::Crash => "crash",
        }
    }

    /// Parse a command-line name.
    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Which nodes a kill, pause or slow-down hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One random node.
    One,
    /// A random minority: floor((n-1)/2) nodes, at least one.
    Minority,
    /// Every node.
    All,
    /// These nodes.
    Nodes(Vec<NodeIndex>),
}

impl Target {
    /// The name recorded in the history.
    pub fn name(&self) -> &'static str {
        match self {
            Target::One => "one",
            Target::Minority => "minority",
            Target::All => "all",
            Target::Nodes(_) => "nodes",
        }
    }

    /// The nodes this target picks among `candidates` (sorted), drawing from `rng`.
    pub fn pick<R: RngExt + ?Sized>(
        &self,
        candidates: &[NodeIndex],
        rng: &mut R,
    ) -> Vec<NodeIndex> {
        let mut v = candidates.to_vec();
        let k = match self {
            Target::One => 1,
            Target::Minority => (candidates.len().saturating_sub(1) / 2).max(1),
            Target::All => candidates.len(),
            Target::Nodes(nodes) => {
                return nodes
                    .iter()
                    .copied()
                    .filter(|n| candidates.contains(n))
                    .collect();
            }
        };
        if k < v.len() {
            v.shuffle(rng);
            v.truncate(k);
            v.sort();
        }
        v
    }
}

/// What the nemesis does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NemesisAction {
    /// Cut the network with this shape.
    Start(PartitionSpec),
    /// Cut the network into these components (nodes not listed form one more).
    Cut(Vec<Vec<NodeIndex>>),
    /// Heal the network.
    Stop,
    /// Kill these nodes.
    Kill(Target),
    /// Crash these nodes: they die, their disks keep what they committed.
    Crash(Target),
    /// Restart these killed or crashed nodes (`All`: every one).
    Restart(Target),
    /// Pause these nodes.
    Pause(Target),
    /// Resume these paused nodes (`All`: every one).
    Resume(Target),
    /// Slow down the links of these nodes.
    Slow(Target),
    /// End these nodes' latency spikes (`All`: every one).
    Fast(Target),
}

impl NemesisAction {
    /// The action that ends `kind`'s fault.
    pub fn stop(kind: FaultKind) -> NemesisAction {
        match kind {
            FaultKind::Partition => NemesisAction::Stop,
            FaultKind::Kill => NemesisAction::Restart(Target::All),
            FaultKind::Pause => NemesisAction::Resume(Target::All),
            FaultKind::Slow => NemesisAction::Fast(Target::All),
            FaultKind::Crash => NemesisAction::Restart(Target::All),
        }
    }
}

/// The nemesis generator.
#[derive(Debug, Clone)]
pub struct NemesisSchedule {
    interval: Duration,
    next_at: Time,
    kinds: Vec<FaultKind>,
    active: [bool; FaultKind::ALL.len()],
}

impl NemesisSchedule {
    /// A schedule of `kinds` (at least one) whose first op is due at `start`.
    pub fn new(start: Time, interval: Duration, kinds: &[FaultKind]) -> NemesisSchedule {
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        NemesisSchedule {
            interval,
            next_at: start,
            kinds,
            active: [false; FaultKind::ALL.len()],
        }
    }

    /// When the next op is due.
    pub fn next_at(&self) -> Time {
        self.next_at
    }

    /// The faults this schedule injects.
    pub fn kinds(&self) -> &[FaultKind] {
        &self.kinds
    }

    /// Take the next op (call when `now >= next_at()`), scheduling the one after it. The
    /// partition shape and the gap come from `rng` (as in Maelstrom); the choice of fault and
    /// the targets from `pick` (only drawn when there is a choice to make).
    pub fn take<R: RngExt + ?Sized, P: RngExt + ?Sized>(
        &mut self,
        rng: &mut R,
        pick: &mut P,
    ) -> NemesisAction {
        let kind = match self.kinds.as_slice() {
            [] => FaultKind::Partition,
            [only] => *only,
            many => many[pick.random_range(0..many.len())],
        };
        let on = &mut self.active[kind.slot()];
        let action = if *on {
            NemesisAction::stop(kind)
        } else {
            match kind {
                FaultKind::Partition => {
                    let k = rng.random_range(0..PartitionSpec::ALL.len());
                    NemesisAction::Start(PartitionSpec::ALL[k])
                }
                FaultKind::Kill => NemesisAction::Kill(node_target(pick, false)),
                FaultKind::Pause => NemesisAction::Pause(node_target(pick, false)),
                FaultKind::Slow => NemesisAction::Slow(node_target(pick, true)),
                FaultKind::Crash => NemesisAction::Crash(node_target(pick, false)),
            }
        };
        *on = !*on;
        let span = 2 * self.interval.as_nanos().max(1) as u64;
        self.next_at = self.next_at + Duration::from_nanos(rng.random_range(0..span));
        action
    }
}

fn node_target<P: RngExt + ?Sized>(pick: &mut P, all_too: bool) -> Target {
    let n = if all_too { 3 } else { 2 };
    match pick.random_range(0..n) {
        0 => Target::One,
        1 => Target::Minority,
        _ => Target::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn alternates_and_spaces_ops() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut pick = Xoshiro256PlusPlus::seed_from_u64(4);
        let mut s =
            NemesisSchedule::new(Time::ZERO, Duration::from_secs(10), &[FaultKind::Partition]);
        assert_eq!(s.next_at(), Time::ZERO);
        let mut last = Time::ZERO;
        let mut total = Duration::ZERO;
        for i in 0..2000 {
            let a = s.take(&mut rng, &mut pick);
            assert_eq!(matches!(a, NemesisAction::Start(_)), i % 2 == 0);
            let gap = s.next_at() - last;
            assert!(gap < Duration::from_secs(20));
            total += gap;
            last = s.next_at();
        }
        let mean = total.as_secs_f64() / 2000.0;
        assert!((9.0..11.0).contains(&mean), "mean gap {mean}");
        // Partitions alone never touch the second generator.
        let untouched = Xoshiro256PlusPlus::seed_from_u64(4);
        assert_eq!(pick, untouched);
    }

    #[test]
    fn mixed_faults_toggle_each_kind() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut pick = Xoshiro256PlusPlus::seed_from_u64(2);
        // Kill and crash share their end (a restart): crashes are checked on their own below.
        let kinds = &FaultKind::ALL[..4];
        let mut s = NemesisSchedule::new(Time::ZERO, Duration::from_secs(1), kinds);
        let mut on = std::collections::BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let a = s.take(&mut rng, &mut pick);
            let (kind, starts) = match a {
                NemesisAction::Start(_) | NemesisAction::Cut(_) => (FaultKind::Partition, true),
                NemesisAction::Stop => (FaultKind::Partition, false),
                NemesisAction::Kill(_) => (FaultKind::Kill, true),
                NemesisAction::Crash(_) => (FaultKind::Crash, true),
                NemesisAction::Restart(_) => (FaultKind::Kill, false),
                NemesisAction::Pause(_) => (FaultKind::Pause, true),
                NemesisAction::Resume(_) => (FaultKind::Pause, false),
                NemesisAction::Slow(_) => (FaultKind::Slow, true),
                NemesisAction::Fast(_) => (FaultKind::Slow, false),
            };
            let was = on.insert(kind, starts).unwrap_or(false);
            assert_ne!(was, starts, "{kind:?} toggles");
            seen.insert(kind);
        }
        assert_eq!(seen.len(), 4);
        let mut s = NemesisSchedule::new(Time::ZERO, Duration::from_secs(1), &[FaultKind::Crash]);
        for i in 0..10 {
            let a = s.take(&mut rng, &mut pick);
            if i % 2 == 0 {
                assert!(
                    matches!(a, NemesisAction::Crash(Target::One | Target::Minority)),
                    "{a:?}"
                );
            } else {
                assert_eq!(a, NemesisAction::Restart(Target::All));
            }
        }
    }

    #[test]
    fn targets() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let nodes: Vec<NodeIndex> = (0..7).map(NodeIndex).collect();
        assert_eq!(Target::One.pick(&nodes, &mut rng).len(), 1);
        assert_eq!(Target::Minority.pick(&nodes, &mut rng).len(), 3);
        assert_eq!(Target::All.pick(&nodes, &mut rng), nodes);
        assert_eq!(Target::Minority.pick(&nodes[..2], &mut rng).len(), 1);
        let fixed = Target::Nodes(vec![NodeIndex(2), NodeIndex(9)]);
        assert_eq!(fixed.pick(&nodes, &mut rng), [NodeIndex(2)]);
        assert!(Target::One.pick(&[], &mut rng).is_empty());
    }
}
