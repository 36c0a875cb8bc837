//! SWIM membership in the shell, on loopback: a crash is detected within the bound the preset
//! predicts, a restart that lost its data directory rejoins as a new node and catches up, one
//! that kept it comes back as the same node in a later incarnation, a graceful shutdown is
//! seen as a departure, seeds given by host name, and a member declared down comes back under
//! a renewed identity though its announcement was lost.

use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gossip_crdt::GSet;
use gossip_net::{
    Keyring, MemberEvent, MemberState, NetError, Node, NodeBuilder, NodeId, Preset, Replica,
};

use common::*;

const NODES: usize = 5;

/// A directory of its own under the system's temporary directory, emptied first.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gossip-net-membership-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn builder(key: &Keyring, bind: SocketAddr, dir: &PathBuf, seeds: Vec<SocketAddr>) -> NodeBuilder {
    NodeBuilder::new(bind)
        .keyring(key.clone())
        .preset(Preset::Lan)
        .cluster_size(NODES as u32)
        .data_dir(dir)
        .seeds(seeds)
}

/// Starts a node at `addr`, which a node that just stopped may still hold for a moment.
async fn restart_at(builder: impl Fn() -> NodeBuilder) -> Node {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match builder().start().await {
            Ok(n) => return n,
            Err(NetError::Bind { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("node did not restart: {e}"),
        }
    }
}

fn state_of(n: &Node, id: NodeId) -> Option<MemberState> {
    n.members().iter().find(|m| m.id == id).map(|m| m.state)
}

fn incarnation_of(n: &Node, id: NodeId) -> Option<u64> {
    n.members()
        .iter()
        .find(|m| m.id == id && m.state == MemberState::Alive)
        .map(|m| m.incarnation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_detect_a_crash_take_back_restarts_and_see_departures() {
    let key = Keyring::generate();
    let dirs: Vec<PathBuf> = (0..NODES).map(|i| fresh_dir(&format!("n{i}"))).collect();
    let first = start_with(builder(&key, any_port(), &dirs[0], Vec::new())).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for dir in dirs.iter().skip(1) {
        nodes.push(start_with(builder(&key, any_port(), dir, vec![seed])).await);
    }
    let mut sets: Vec<Replica<GSet<u64>>> =
        nodes.iter().map(|n| n.open("s").expect("open")).collect();
    for (i, s) in sets.iter().enumerate() {
        s.update(|st, _| Some(st.insert_delta(i as u64)))
            .await
            .expect("update");
    }
    wait_for("every node to see the four others alive", || {
        nodes.iter().all(|n| {
            n.members().len() == NODES - 1
                && n.members().iter().all(|m| m.state == MemberState::Alive)
        })
    })
    .await;
    wait_for("every replica to know the four others", || {
        sets.iter().all(|s| s.members().len() == NODES - 1)
    })
    .await;

    // A crash: the node's tasks are aborted, it goes silent without a word.
    let crashed = nodes.pop().expect("five nodes");
    let _ = sets.pop();
    let (crashed_id, crashed_addr) = (crashed.id(), crashed.local_addr());
    drop(crashed);
    let crashed_at = tokio::time::Instant::now();
    // The bound (docs/membership.md, "Presets and detection time"): each member probes every
    // other once per round of n - 1 probe periods, so the first probe of the crashed node
    // comes within n - 1 periods; it is suspect one period later and down after the
    // suspicion timeout; the verdict then spreads by gossip (200 ms rounds), for which, with
    // the scheduling of a loaded machine, two more periods are allowed.
    let config = nodes[0].membership_config();
    let period = config.swim.probe_period;
    let bound = period * (NODES as u32 - 1) + config.detection_after_first_probe() + period * 2;
    loop {
        let seen = nodes
            .iter()
            .filter(|n| state_of(n, crashed_id) == Some(MemberState::Down))
            .count();
        if seen == nodes.len() {
            eprintln!(
                "crash seen as down everywhere after {:?} (bound {bound:?})",
                crashed_at.elapsed()
            );
            break;
        }
        assert!(
            crashed_at.elapsed() <= bound,
            "only {seen} of {} members saw the crash as down within {bound:?}",
            nodes.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for(
        "the replicas to stop replicating with the crashed node",
        || sets.iter().all(|s| !s.members().contains(&crashed_id)),
    )
    .await;

    // It comes back at the same address with an empty data directory: a new node.
    let empty = fresh_dir("n4-again");
    let back = restart_at(|| builder(&key, crashed_addr, &empty, vec![seed])).await;
    assert_ne!(
        back.id(),
        crashed_id,
        "an empty data directory makes a new node id"
    );
    let back_set: Replica<GSet<u64>> = back.open("s").expect("open");
    back_set
        .update(|st, _| Some(st.insert_delta(100)))
        .await
        .expect("update");
    nodes.push(back);
    sets.push(back_set);
    let new_id = nodes[NODES - 1].id();
    wait_for(
        "every node to see the new node alive and the old one gone",
        || {
            nodes.iter().take(NODES - 1).all(|n| {
                state_of(n, new_id) == Some(MemberState::Alive)
                    && state_of(n, crashed_id).is_none_or(|s| !s.is_active())
            })
        },
    )
    .await;
    wait_for("every replica to hold the same state", || {
        let first = sets[0].snapshot();
        first.len() == NODES + 1 && sets.iter().all(|s| s.snapshot() == first)
    })
    .await;

    // A graceful shutdown: seen as a departure, not a failure.
    let leaving = nodes.remove(3);
    let _ = sets.remove(3);
    let (left_id, left_addr) = (leaving.id(), leaving.local_addr());
    let old_incarnation = leaving.incarnation();
    leaving.shutdown().await.expect("shutdown");
    drop(leaving);
    wait_for("every node to see the departure as left", || {
        nodes
            .iter()
            .all(|n| state_of(n, left_id) == Some(MemberState::Left))
    })
    .await;

    // It comes back with its data directory: the same node, a later incarnation.
    let again = restart_at(|| builder(&key, left_addr, &dirs[3], vec![seed])).await;
    assert_eq!(
        again.id(),
        left_id,
        "a kept data directory keeps the node id"
    );
    assert!(again.incarnation() > old_incarnation);
    wait_for(
        "every node to see the same node alive in a later incarnation",
        || {
            nodes
                .iter()
                .all(|n| incarnation_of(n, left_id).is_some_and(|i| i > old_incarnation))
        },
    )
    .await;
    for n in nodes.iter().chain([&again]) {
        assert_eq!(n.metrics().refused_membership, 0);
    }
    for dir in dirs.iter().chain([&empty]) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_events_tell_who_joined_and_who_left() {
    let key = Keyring::generate();
    let a = start(&key, Vec::new()).await;
    let mut events = a.member_events();
    let b = start(&key, vec![a.local_addr()]).await;
    let b_id = b.id();
    let up = within("an up event", async {
        loop {
            match events.next().await {
                Some(MemberEvent::Up(id)) => break id,
                Some(_) => continue,
                None => panic!("the node stopped"),
            }
        }
    })
    .await;
    assert_eq!(up.id, b_id);
    assert_eq!(up.addr, b.local_addr());
    // A node that leaves before it knows anyone has nobody to tell.
    wait_for("the newcomer to know the first node", || {
        b.members()
            .iter()
            .any(|m| m.id == a.id() && m.state == MemberState::Alive)
    })
    .await;
    b.shutdown().await.expect("shutdown");
    let left = within("a left event", async {
        loop {
            match events.next().await {
                Some(MemberEvent::Left(id)) => break id,
                Some(_) => continue,
                None => panic!("the node stopped"),
            }
        }
    })
    .await;
    assert_eq!(left.id, b_id);
    wait_for("the gauge of departed members to count it", || {
        a.metrics().members_left == 1 && a.metrics().members_alive == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_by_host_name_are_resolved_and_bad_ones_refused() {
    let key = Keyring::generate();
    let a = start(&key, Vec::new()).await;
    let by_name = format!("localhost:{}", a.local_addr().port());
    let b = start_with(
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            // A name that never resolves is logged, and does not stop the others.
            .seed_hosts([by_name.as_str(), "no-such-host.invalid:7000"]),
    )
    .await;
    wait_for("the node seeded by name to join", || {
        a.members()
            .iter()
            .any(|m| m.id == b.id() && m.state == MemberState::Alive)
    })
    .await;
    for bad in ["localhost", "localhost:notaport", ":7000"] {
        let r = NodeBuilder::new(any_port())
            .keyring(key.clone())
            .seed_hosts([bad])
            .start()
            .await;
        assert!(
            matches!(&r, Err(NetError::BadSeed { seed }) if seed == bad),
            "{bad:?} was not refused as a seed"
        );
    }
}

/// A member that nobody hears is declared down and renews its identity while still cut off, so
/// the packets announcing the renewal are lost. Once it is heard again, its own asks to be let
/// in (every rejoin interval) bring it back, well before the others' periodic announcements to
/// down members would; and its updates reach the others again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_declared_down_comes_back_under_a_renewed_identity() {
    let key = Keyring::generate();
    let small = |seeds: Vec<SocketAddr>| {
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .cluster_size(3)
            .seeds(seeds)
    };
    let a = start_with(small(Vec::new())).await;
    let b = start_with(small(vec![a.local_addr()])).await;
    let c = start_with(small(vec![a.local_addr()])).await;
    let sets: Vec<Replica<GSet<u64>>> = [&a, &b, &c]
        .iter()
        .map(|n| n.open("s").expect("open"))
        .collect();
    wait_for("every replica to know the two others", || {
        sets.iter().all(|s| s.members().len() == 2)
    })
    .await;
    let mut events = c.member_events();
    let before = c.incarnation();
    // Cut off (it still hears the others, but nothing it says arrives): declared down.
    c.silence(true);
    wait_for("the cut-off member to be declared down", || {
        [&a, &b]
            .iter()
            .all(|n| state_of(n, c.id()) == Some(MemberState::Down))
    })
    .await;
    let renewed = within("the member to renew its identity", async {
        loop {
            match events.next().await {
                Some(MemberEvent::Rejoined(id)) => break id,
                Some(_) => continue,
                None => panic!("the node stopped"),
            }
        }
    })
    .await;
    c.silence(false);
    assert_eq!(renewed.id, c.id());
    assert!(renewed.generation > before, "{renewed} not renewed");
    let heard_at = tokio::time::Instant::now();
    let config = c.membership_config();
    // A few rejoin intervals, and probe periods for the news to spread: far below the 65 s
    // between the others' announcements to down members.
    let bound = config.rejoin_interval * 3 + config.swim.probe_period * 2;
    while ![&a, &b]
        .iter()
        .all(|n| incarnation_of(n, c.id()) == Some(c.incarnation()))
    {
        assert!(
            heard_at.elapsed() <= bound,
            "the renewed identity was not taken back within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "renewed identity taken back {:?} after it was heard again",
        heard_at.elapsed()
    );
    sets[2]
        .update(|s, _| Some(s.insert_delta(9)))
        .await
        .expect("update");
    wait_for("its updates to reach the others again", || {
        sets.iter().all(|s| s.read(|s| s.contains(&9)))
    })
    .await;
}
