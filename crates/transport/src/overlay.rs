//! Who gets an eager push: the overlay each strategy pushes along.
//!
//! Flooding pushes to every neighbour of the overlay graph; the tree strategies push along a
//! spanning tree of it. A star is the tree that minimises messages (every delta crosses two
//! edges), and the only overlay here whose shape changes at run time: when a node cannot
//! reach its hub it turns to the next candidate and asks it to relay.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::{Overlay, Strategy};

/// The eager-push plan for one node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan<P> {
    /// No eager pushes (the epidemic strategies).
    None,
    /// A fixed neighbour list.
    Fixed(Vec<P>),
    /// A star: `candidates[0]` is the hub; the rest take over in order.
    Star { candidates: Vec<P> },
}

/// Works out the plan for `me` among `members`.
pub(crate) fn plan<P: Ord + Clone>(
    me: &P,
    members: &[P],
    strategy: &Strategy,
    overlay: &Overlay<P>,
) -> Plan<P> {
    let others = || {
        members
            .iter()
            .filter(|m| *m != me)
            .cloned()
            .collect::<Vec<_>>()
    };
    let tree = matches!(strategy, Strategy::Tree | Strategy::Hybrid { .. });
    match strategy {
        Strategy::Gossip { .. } | Strategy::PushPull { .. } => return Plan::None,
        Strategy::Flood | Strategy::Tree | Strategy::Hybrid { .. } => {}
    }
    match overlay {
        Overlay::Full if tree => Plan::Star {
            candidates: members.iter().take(1).cloned().collect(),
        },
        Overlay::Full => Plan::Fixed(others()),
        Overlay::Star { hubs } if tree => Plan::Star {
            candidates: members.iter().take((*hubs).max(1)).cloned().collect(),
        },
        Overlay::Star { .. } => match members.first() {
            Some(hub) if hub == me => Plan::Fixed(others()),
            Some(hub) => Plan::Fixed(vec![hub.clone()]),
            None => Plan::Fixed(Vec::new()),
        },
        Overlay::Kary { k } => Plan::Fixed(kary_neighbours(me, members, (*k).max(1))),
        Overlay::Given(edges) => {
            let graph = symmetric(edges, members);
            if tree {
                Plan::Fixed(spanning_tree_neighbours(me, members, &graph))
            } else {
                Plan::Fixed(flood_neighbours(me, members, &graph))
            }
        }
    }
}

/// Parent and children of `me` in the k-ary tree laid over `members` in order.
fn kary_neighbours<P: Ord + Clone>(me: &P, members: &[P], k: usize) -> Vec<P> {
    let Some(i) = members.iter().position(|m| m == me) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if i > 0 {
        out.push(members[(i - 1) / k].clone());
    }
    for c in (i * k + 1)..=(i * k + k) {
        if let Some(child) = members.get(c) {
            out.push(child.clone());
        }
    }
    out
}

/// The eager targets of member `i` of a k-ary tree over `n` members, routed around the
/// members `suspected` says stopped acknowledging: the tree as it would be laid out without
/// them, as far as this member can tell. Its parent is the nearest ancestor not suspected;
/// in place of a suspected child come that child's children, recursively. When every
/// ancestor is suspected, the tree's new head is the first member not suspected: every member
/// attaches to the first one before it that is not suspected, so a member that finds no one
/// before it heads the tree, and the members whose ancestors are all suspected hang off it.
/// Parents always come before their children, so no member can route in a circle. Without
/// suspects this is the member's parent and children.
///
/// `suspected` is called only for members other than `i`, and only for those on the way: a
/// walk through the suspects and one step beyond.
pub(crate) fn kary_detour(
    i: usize,
    n: usize,
    k: usize,
    suspected: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let k = k.max(1);
    let children = |j: usize| {
        let first = j.saturating_mul(k).saturating_add(1);
        (first..first.saturating_add(k)).take_while(move |c| *c < n)
    };
    let mut out = Vec::new();
    let mut up = None;
    let mut a = i;
    while a > 0 {
        a = (a - 1) / k;
        if !suspected(a) {
            up = Some(a);
            break;
        }
    }
    let head_lost = i > 0 && up.is_none();
    if head_lost {
        up = (0..i).find(|&j| !suspected(j));
    }
    out.extend(up);
    let mut stack: Vec<usize> = children(i).collect();
    if head_lost && up.is_none() {
        // This member heads the tree now: the members below the suspected head whose
        // ancestors are all suspected attach to it.
        stack.extend(children(0));
    }
    while let Some(c) = stack.pop() {
        if c == i {
            continue;
        }
        if suspected(c) {
            stack.extend(children(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The neighbour relation among `members` (sorted) made symmetric: an edge listed in either
/// direction counts, and an edge to someone who is not a member does not.
fn symmetric<P: Ord + Clone>(edges: &[(P, Vec<P>)], members: &[P]) -> BTreeMap<P, BTreeSet<P>> {
    let member = |p: &P| members.binary_search(p).is_ok();
    let mut graph: BTreeMap<P, BTreeSet<P>> = BTreeMap::new();
    for (node, neighbours) in edges {
        for n in neighbours {
            if n != node && member(n) && member(node) {
                graph.entry(node.clone()).or_default().insert(n.clone());
                graph.entry(n.clone()).or_default().insert(node.clone());
            }
        }
    }
    graph
}

/// `me`'s neighbours in `graph`, plus links that keep every member reachable: a member the
/// graph does not connect to the first member (its neighbours left, say) is linked to it, as
/// the spanning tree hangs it off the root.
fn flood_neighbours<P: Ord + Clone>(
    me: &P,
    members: &[P],
    graph: &BTreeMap<P, BTreeSet<P>>,
) -> Vec<P> {
    let mut out: BTreeSet<P> = graph.get(me).cloned().unwrap_or_default();
    if let Some(root) = members.first() {
        let reached = reachable(root, graph);
        if me == root {
            out.extend(members.iter().filter(|m| !reached.contains(*m)).cloned());
        } else if !reached.contains(me) {
            out.insert(root.clone());
        }
    }
    out.into_iter().collect()
}

/// Every node `graph` connects to `root`, `root` included.
fn reachable<P: Ord + Clone>(root: &P, graph: &BTreeMap<P, BTreeSet<P>>) -> BTreeSet<P> {
    let mut seen = BTreeSet::from([root.clone()]);
    let mut queue = VecDeque::from([root.clone()]);
    while let Some(node) = queue.pop_front() {
        for n in graph.get(&node).into_iter().flatten() {
            if seen.insert(n.clone()) {
                queue.push_back(n.clone());
            }
        }
    }
    seen
}

/// `me`'s parent and children in a breadth-first spanning tree of `graph` rooted at the first
/// member. Members the graph does not reach hang off the root, so nobody is left out.
fn spanning_tree_neighbours<P: Ord + Clone>(
    me: &P,
    members: &[P],
    graph: &BTreeMap<P, BTreeSet<P>>,
) -> Vec<P> {
    let Some(root) = members.first() else {
        return Vec::new();
    };
    let mut parent: BTreeMap<P, Option<P>> = BTreeMap::new();
    parent.insert(root.clone(), None);
    let mut queue = VecDeque::from([root.clone()]);
    while let Some(node) = queue.pop_front() {
        for n in graph.get(&node).into_iter().flatten() {
            if !parent.contains_key(n) {
                parent.insert(n.clone(), Some(node.clone()));
                queue.push_back(n.clone());
            }
        }
    }
    for m in members {
        parent
            .entry(m.clone())
            .or_insert_with(|| Some(root.clone()));
    }
    let mut out: Vec<P> = parent.get(me).cloned().flatten().into_iter().collect();
    for (child, p) in &parent {
        if p.as_ref() == Some(me) {
            out.push(child.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn kary_tree_matches_the_parent_rule() {
        let m = names(25);
        assert_eq!(kary_neighbours(&m[0], &m, 4), vec!["n1", "n2", "n3", "n4"]);
        assert_eq!(
            kary_neighbours(&m[1], &m, 4),
            vec!["n0", "n5", "n6", "n7", "n8"]
        );
        assert_eq!(
            kary_neighbours(&m[5], &m, 4),
            vec!["n1", "n21", "n22", "n23", "n24"]
        );
        assert_eq!(kary_neighbours(&m[24], &m, 4), vec!["n5"]);
    }

    /// Every member's detoured targets, for a set of suspects that every member shares.
    fn detours(n: usize, k: usize, dead: &[usize]) -> Vec<Vec<usize>> {
        (0..n)
            .map(|i| {
                let mut t = kary_detour(i, n, k, |j| dead.contains(&j));
                t.sort();
                t
            })
            .collect()
    }

    #[test]
    fn without_suspects_a_detour_is_the_tree() {
        let m = names(40);
        for (i, targets) in detours(40, 4, &[]).into_iter().enumerate() {
            let expected: Vec<String> = targets.iter().map(|t| m[*t].clone()).collect();
            let mut tree = kary_neighbours(&m[i], &m, 4);
            tree.sort();
            let mut expected = expected;
            expected.sort();
            assert_eq!(expected, tree, "member {i}");
        }
    }

    #[test]
    fn detours_around_shared_suspects_form_one_tree_over_the_rest() {
        // 2-ary tree over 15: the head, a whole level and some leaves suspected.
        let n = 15;
        let dead = [0, 1, 2, 9, 12];
        let t = detours(n, 2, &dead);
        // 3 heads the tree; 4, 5, 6 (whose ancestors all died) hang off it.
        assert_eq!(t[3], vec![4, 5, 6, 7, 8]);
        assert_eq!(t[4], vec![3, 10]);
        assert_eq!(t[5], vec![3, 11]);
        assert_eq!(t[6], vec![3, 13, 14]);
        // Symmetric, and a tree: n - dead - 1 edges joining every live member.
        let live: Vec<usize> = (0..n).filter(|i| !dead.contains(i)).collect();
        let mut edges = 0;
        for &i in &live {
            assert!(
                t[i].iter().all(|j| !dead.contains(j)),
                "{i} targets a suspect"
            );
            for &j in &t[i] {
                assert!(t[j].contains(&i), "{i} -> {j} but not back");
                edges += 1;
            }
        }
        assert_eq!(edges / 2, live.len() - 1);
        let mut seen = vec![live[0]];
        let mut todo = vec![live[0]];
        while let Some(i) = todo.pop() {
            for &j in &t[i] {
                if !seen.contains(&j) {
                    seen.push(j);
                    todo.push(j);
                }
            }
        }
        assert_eq!(seen.len(), live.len(), "connected");
    }

    #[test]
    fn spanning_tree_covers_a_line_and_stragglers() {
        let m = names(4);
        // n0 - n1 - n2, and n3 unreachable.
        let edges = vec![
            ("n0".to_string(), vec!["n1".to_string()]),
            ("n1".to_string(), vec!["n0".to_string(), "n2".to_string()]),
        ];
        let g = symmetric(&edges, &m);
        assert_eq!(spanning_tree_neighbours(&m[1], &m, &g), vec!["n0", "n2"]);
        assert_eq!(spanning_tree_neighbours(&m[0], &m, &g), vec!["n1", "n3"]);
        assert_eq!(spanning_tree_neighbours(&m[3], &m, &g), vec!["n0"]);
    }

    #[test]
    fn a_given_graph_counts_members_only_and_keeps_them_reachable() {
        // A ring n0 - n1 - ... - n5 - n0, of which n2 and n4 left: n3 is cut off.
        let ring: Vec<(String, Vec<String>)> = (0..6)
            .map(|i| (format!("n{i}"), vec![format!("n{}", (i + 1) % 6)]))
            .collect();
        let members: Vec<String> = ["n0", "n1", "n3", "n5"].map(String::from).to_vec();
        let overlay = Overlay::Given(ring);
        let flood = |me: &str| plan(&me.to_string(), &members, &Strategy::Flood, &overlay);
        let fixed = |names: &[&str]| Plan::Fixed(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(flood("n0"), fixed(&["n1", "n3", "n5"]));
        assert_eq!(flood("n1"), fixed(&["n0"]));
        assert_eq!(flood("n3"), fixed(&["n0"]));
        let tree = |me: &str| plan(&me.to_string(), &members, &Strategy::Tree, &overlay);
        assert_eq!(tree("n0"), fixed(&["n1", "n3", "n5"]));
        assert_eq!(tree("n3"), fixed(&["n0"]));
    }

    #[test]
    fn strategies_pick_their_plan() {
        let m = names(5);
        assert_eq!(
            plan(&m[2], &m, &Strategy::Tree, &Overlay::Star { hubs: 2 }),
            Plan::Star {
                candidates: vec!["n0".to_string(), "n1".to_string()]
            }
        );
        assert_eq!(
            plan(&m[2], &m, &Strategy::Flood, &Overlay::Full),
            Plan::Fixed(vec!["n0".into(), "n1".into(), "n3".into(), "n4".into()])
        );
        assert_eq!(
            plan(
                &m[2],
                &m,
                &Strategy::PushPull {
                    interval: std::time::Duration::from_millis(100)
                },
                &Overlay::Full
            ),
            Plan::None
        );
    }
}
