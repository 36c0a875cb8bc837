//! Network partitions: the four grudge shapes and the set of cut links.
//!
//! A grudge maps each destination node to the sources it refuses to hear from. Only server
//! nodes are ever partitioned; clients and services always get through. The network checks the
//! grudge on the receive side, when a message is taken off the destination's queue.

use std::collections::{BTreeMap, BTreeSet};

use rand::RngExt;
use rand::seq::SliceRandom;

use crate::ids::NodeIndex;

/// The partition shapes Maelstrom's nemesis picks from, uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionSpec {
    /// One random node cut off from all others.
    One,
    /// A random third (floor((n-1)/3) nodes) cut off from the rest.
    MinorityThird,
    /// A random split into floor(n/2) and the rest.
    Majority,
    /// Every node sees a majority, no two nodes the same one.
    MajoritiesRing,
}

impl PartitionSpec {
    /// Every shape.
    pub const ALL: [PartitionSpec; 4] = [
        PartitionSpec::One,
        PartitionSpec::MinorityThird,
        PartitionSpec::Majority,
        PartitionSpec::MajoritiesRing,
    ];

    /// Maelstrom's name for the shape.
    pub fn name(self) -> &'static str {
        match self {
            PartitionSpec::One => "one",
            PartitionSpec::MinorityThird => "minority-third",
            PartitionSpec::Majority => "majority",
            PartitionSpec::MajoritiesRing => "majorities-ring",
        }
    }

    /// The shape with this name.
    pub fn parse(name: &str) -> Option<PartitionSpec> {
        PartitionSpec::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// dest → the sources whose messages it drops.
pub type Grudge = BTreeMap<NodeIndex, BTreeSet<NodeIndex>>;

/// Every node drops messages from every node outside its own component.
fn complete_grudge(components: &[Vec<NodeIndex>]) -> Grudge {
    let all: BTreeSet<NodeIndex> = components.iter().flatten().copied().collect();
    let mut g = Grudge::new();
    for comp in components {
        let mine: BTreeSet<NodeIndex> = comp.iter().copied().collect();
        let others: BTreeSet<NodeIndex> = all.difference(&mine).copied().collect();
        if others.is_empty() {
            continue;
        }
        for &n in comp {
            g.insert(n, others.clone());
        }
    }
    g
}

/// The grudge that splits the network into exactly these components (nodes not listed form
/// one more component).
pub fn grudge_of_groups(groups: &[Vec<NodeIndex>], n: usize) -> Grudge {
    let mut comps: Vec<Vec<NodeIndex>> = groups.iter().filter(|g| !g.is_empty()).cloned().collect();
    let listed: BTreeSet<NodeIndex> = comps.iter().flatten().copied().collect();
    let rest: Vec<NodeIndex> = (0..n)
        .map(NodeIndex)
        .filter(|i| !listed.contains(i))
        .collect();
    if !rest.is_empty() {
        comps.push(rest);
    }
    complete_grudge(&comps)
}

/// Draw a grudge of shape `spec` over `n` nodes.
pub fn grudge<R: RngExt + ?Sized>(spec: PartitionSpec, n: usize, rng: &mut R) -> Grudge {
    let mut nodes: Vec<NodeIndex> = (0..n).map(NodeIndex).collect();
    nodes.shuffle(rng);
    match spec {
        PartitionSpec::One => {
            let (a, b) = nodes.split_at(n.min(1));
            complete_grudge(&[a.to_vec(), b.to_vec()])
        }
        PartitionSpec::MinorityThird => {
            let (a, b) = nodes.split_at(n.saturating_sub(1) / 3);
            complete_grudge(&[a.to_vec(), b.to_vec()])
        }
        PartitionSpec::Majority => {
            let (a, b) = nodes.split_at(n / 2);
            complete_grudge(&[a.to_vec(), b.to_vec()])
        }
        PartitionSpec::MajoritiesRing => {
            // Jepsen's perfect ring: windows of a majority m over the shuffled ring; each
            // window's middle node keeps that window. For n > 5 Jepsen uses a randomised
            // construction; the ring has the same property (distinct majorities), so we use it.
            let m = n / 2 + 1;
            let all: BTreeSet<NodeIndex> = nodes.iter().copied().collect();
            let mut g = Grudge::new();
            for start in 0..n {
                let window: Vec<NodeIndex> = (0..m).map(|k| nodes[(start + k) % n]).collect();
                let me = window[m / 2];
                let keep: BTreeSet<NodeIndex> = window.into_iter().collect();
                let drop: BTreeSet<NodeIndex> = all.difference(&keep).copied().collect();
                if !drop.is_empty() {
                    g.insert(me, drop);
                }
            }
            g
        }
    }
}

/// The links currently cut: (dest, src) pairs.
#[derive(Debug, Clone, Default)]
pub struct Partitions {
    cut: BTreeSet<(NodeIndex, NodeIndex)>,
}

impl Partitions {
    /// Apply a grudge on top of the current cuts.
    pub fn apply(&mut self, grudge: &Grudge) {
        for (dest, srcs) in grudge {
            for src in srcs {
                self.cut.insert((*dest, *src));
            }
        }
    }

    /// Heal everything.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Whether `dest` drops messages from `src`.
    pub fn drops(&self, src: NodeIndex, dest: NodeIndex) -> bool {
        !self.cut.is_empty() && self.cut.contains(&(dest, src))
    }

    /// Whether any link is cut.
    pub fn is_active(&self) -> bool {
        !self.cut.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn sym(g: &Grudge) -> bool {
        g.iter()
            .all(|(d, srcs)| srcs.iter().all(|s| g.get(s).is_some_and(|x| x.contains(d))))
    }

    #[test]
    fn shapes_have_the_right_sizes() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for n in [1usize, 2, 3, 5, 7, 25] {
            let one = grudge(PartitionSpec::One, n, &mut rng);
            if n > 1 {
                // The isolated node drops everyone else.
                assert!(one.values().any(|s| s.len() == n - 1));
                assert!(sym(&one));
            } else {
                assert!(one.is_empty());
            }
            let maj = grudge(PartitionSpec::Majority, n, &mut rng);
            assert!(sym(&maj));
            let small = maj.values().map(BTreeSet::len).min().unwrap_or(0);
            if n > 1 {
                assert_eq!(small, n / 2);
            }
            let third = grudge(PartitionSpec::MinorityThird, n, &mut rng);
            assert!(sym(&third));
            assert_eq!(
                third
                    .values()
                    .filter(|s| s.len() == n - (n - 1) / 3)
                    .count(),
                (n - 1) / 3
            );
            let ring = grudge(PartitionSpec::MajoritiesRing, n, &mut rng);
            for (me, dropped) in &ring {
                assert!(!dropped.contains(me));
                assert_eq!(n - dropped.len(), n / 2 + 1, "node sees a majority");
            }
            if n >= 3 {
                let seen: BTreeSet<Vec<NodeIndex>> =
                    ring.values().map(|d| d.iter().copied().collect()).collect();
                assert_eq!(seen.len(), ring.len(), "distinct majorities");
            }
        }
    }

    #[test]
    fn partitions_cut_and_heal() {
        let mut p = Partitions::default();
        let mut g = Grudge::new();
        g.insert(NodeIndex(0), [NodeIndex(1)].into_iter().collect());
        p.apply(&g);
        assert!(p.drops(NodeIndex(1), NodeIndex(0)));
        assert!(!p.drops(NodeIndex(0), NodeIndex(1)));
        p.heal();
        assert!(!p.is_active());
    }
}
