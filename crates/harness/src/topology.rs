//! Broadcast topologies: the neighbour map sent to every node during setup.
//!
//! The algorithms follow Maelstrom's exactly, including neighbour order, so a node that
//! trusts the topology behaves the same under both harnesses.

use std::collections::BTreeMap;

use crate::ids::NodeId;
use crate::options::TopologyKind;

/// A neighbour map: node id → neighbours, in the order Maelstrom lists them.
pub type Topology = BTreeMap<String, Vec<String>>;

/// Build the topology of `kind` over `nodes` (in test order).
pub fn build(kind: TopologyKind, nodes: &[NodeId]) -> Topology {
    let names: Vec<&str> = nodes.iter().map(NodeId::as_str).collect();
    let n = names.len();
    let mut map = Topology::new();
    match kind {
        TopologyKind::Grid => {
            let side = (1..=n.max(1)).find(|s| s * s >= n).unwrap_or(1);
            for k in 0..n {
                let (i, j) = ((k / side) as isize, (k % side) as isize);
                let mut neigh = Vec::new();
                for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    let (ni, nj) = (i + di, j + dj);
                    if ni < 0 || nj < 0 || nj >= side as isize {
                        continue;
                    }
                    let idx = ni as usize * side + nj as usize;
                    if idx < n {
                        neigh.push(names[idx].to_owned());
                    }
                }
                map.insert(names[k].to_owned(), neigh);
            }
        }
        TopologyKind::Line => {
            if n >= 2 {
                for k in 0..n {
                    let mut neigh = Vec::new();
                    if k > 0 {
                        neigh.push(names[k - 1].to_owned());
                    }
                    if k + 1 < n {
                        neigh.push(names[k + 1].to_owned());
                    }
                    map.insert(names[k].to_owned(), neigh);
                }
            }
        }
        TopologyKind::Total => {
            for (k, name) in names.iter().enumerate() {
                let neigh = names
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != k)
                    .map(|(_, s)| (*s).to_owned())
                    .collect();
                map.insert((*name).to_owned(), neigh);
            }
        }
        TopologyKind::Tree(b) => {
            let b = usize::from(b.max(1));
            // Tiers of size 1, b, b², ...: tier_start[t] is the index of the tier's first node.
            let mut tiers: Vec<(usize, usize)> = Vec::new();
            let (mut start, mut size) = (0usize, 1usize);
            while start < n {
                let len = size.min(n - start);
                tiers.push((start, len));
                start += len;
                size *= b;
            }
            let mut neigh: Vec<Vec<String>> = vec![Vec::new(); n];
            for t in 0..tiers.len().saturating_sub(1) {
                let (ps, pl) = tiers[t];
                let (cs, cl) = tiers[t + 1];
                for k in 0..pl {
                    for c in k * b..(k * b + b).min(cl) {
                        let (parent, child) = (ps + k, cs + c);
                        neigh[child].insert(0, names[parent].to_owned());
                        neigh[parent].push(names[child].to_owned());
                    }
                }
            }
            for (k, v) in neigh.into_iter().enumerate() {
                map.insert(names[k].to_owned(), v);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::default_nodes;

    fn get<'a>(t: &'a Topology, k: &str) -> Vec<&'a str> {
        t.get(k)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn grid_matches_maelstrom_example() {
        let t = build(TopologyKind::Grid, &default_nodes(None));
        assert_eq!(get(&t, "n1"), ["n4", "n2"]);
        assert_eq!(get(&t, "n2"), ["n5", "n3", "n1"]);
        assert_eq!(get(&t, "n3"), ["n2"]);
        assert_eq!(get(&t, "n4"), ["n1", "n5"]);
        assert_eq!(get(&t, "n5"), ["n2", "n4"]);
        let one = build(TopologyKind::Grid, &default_nodes(Some(1)));
        assert_eq!(one.len(), 1);
        assert!(get(&one, "n0").is_empty());
    }

    #[test]
    fn line_and_total() {
        let t = build(TopologyKind::Line, &default_nodes(None));
        assert_eq!(get(&t, "n1"), ["n2"]);
        assert_eq!(get(&t, "n2"), ["n1", "n3"]);
        assert_eq!(get(&t, "n5"), ["n4"]);
        assert!(build(TopologyKind::Line, &default_nodes(Some(1))).is_empty());
        let t = build(TopologyKind::Total, &default_nodes(Some(3)));
        assert_eq!(get(&t, "n1"), ["n0", "n2"]);
    }

    #[test]
    fn trees_match_maelstrom_examples() {
        let t = build(TopologyKind::Tree(2), &default_nodes(None));
        assert_eq!(get(&t, "n1"), ["n2", "n3"]);
        assert_eq!(get(&t, "n2"), ["n1", "n4", "n5"]);
        assert_eq!(get(&t, "n3"), ["n1"]);
        assert_eq!(get(&t, "n4"), ["n2"]);
        let t = build(TopologyKind::Tree(4), &default_nodes(Some(25)));
        assert_eq!(get(&t, "n0"), ["n1", "n2", "n3", "n4"]);
        assert_eq!(get(&t, "n1"), ["n0", "n5", "n6", "n7", "n8"]);
        assert_eq!(get(&t, "n5"), ["n1", "n21", "n22", "n23", "n24"]);
        assert_eq!(get(&t, "n21"), ["n5"]);
    }
}
