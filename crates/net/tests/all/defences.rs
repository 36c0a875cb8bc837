//! What a node does with input it should not trust: a node with the wrong key, garbage
//! datagrams, huge frames, replays, and a network that loses, duplicates and reorders.

use crate::common;

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_net::{Faults, Keyring, NodeBuilder, Replica};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_key_stays_outside() {
    let key = Keyring::generate();
    let nodes = cluster(&key, 2).await;
    let sets: Vec<Replica<GSet<u64>>> = nodes.iter().map(|n| n.open("s").expect("open")).collect();
    let intruder = start(&Keyring::generate(), vec![nodes[0].local_addr()]).await;
    let theirs: Replica<GSet<u64>> = intruder.open("s").expect("open");
    theirs
        .update(|s, _| Some(s.insert_delta(666)))
        .await
        .expect("update");
    // The intruder keeps asking to be let in (every rejoin interval while alone); each
    // request is refused unopened.
    wait_for(
        "several of the intruder's join requests to be refused",
        || nodes[0].metrics().refused_unsealed >= 3 && intruder.metrics().membership_sent >= 3,
    )
    .await;
    sets[1]
        .update(|s, _| Some(s.insert_delta(1)))
        .await
        .expect("update");
    wait_for("the members to converge", || {
        sets.iter().all(|s| s.read(|s| s.contains(&1)))
    })
    .await;
    assert!(sets.iter().all(|s| s.read(|s| !s.contains(&666))));
    for n in &nodes {
        assert!(
            n.members()
                .iter()
                .all(|m| m.id != intruder.id() && m.addr != intruder.local_addr()),
            "the intruder is in a member list"
        );
        assert_eq!(n.members().len(), nodes.len() - 1);
        assert_eq!(n.metrics().refused_membership, 0);
    }
    assert!(sets.iter().all(|s| !s.members().contains(&intruder.id())));
    assert!(intruder.members().is_empty());
    assert!(theirs.members().is_empty());
    assert!(!theirs.read(|s| s.contains(&1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_huge_frames_and_replays_leave_the_node_serving() {
    let key = Keyring::generate();
    let nodes = cluster(&key, 2).await;
    let sets: Vec<Replica<GSet<u64>>> = nodes.iter().map(|n| n.open("s").expect("open")).collect();
    let target = nodes[0].local_addr();
    let udp = UdpSocket::bind(any_port()).await.expect("bind");
    // Garbage of every length, including empty and over the datagram limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [0usize, 1, 2, 24, 40, 41, 42, 100, 1399, 1400, 9000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        udp.send_to(&bytes, target).await.expect("send");
        let mut sealed_version = bytes.clone();
        if let Some(b) = sealed_version.first_mut() {
            *b = 1;
        }
        udp.send_to(&sealed_version, target).await.expect("send");
    }
    // A frame announcing 1 GiB: refused before anything is allocated, connection closed.
    let mut tcp = TcpStream::connect(target).await.expect("connect");
    tcp.write_all(&(1u32 << 30).to_be_bytes())
        .await
        .expect("write");
    tcp.write_all(&[0u8; 64]).await.expect("write");
    // A valid sealed message, twice: the second is a replay.
    let valid = gossip_net::fuzz::valid_message(Some(&key), "default", &[1, 2, 3]);
    udp.send_to(&valid, target).await.expect("send");
    udp.send_to(&valid, target).await.expect("send");
    wait_for("every bad input to be counted", || {
        let m = nodes[0].metrics();
        m.refused_frame_too_large == 1
            && m.replayed == 1
            && m.refused_malformed + m.refused_unsealed >= 20
    })
    .await;
    sets[0]
        .update(|s, _| Some(s.insert_delta(5)))
        .await
        .expect("update");
    wait_for("the node to keep serving", || {
        sets[1].read(|s| s.contains(&5))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_duplication_and_reordering_do_not_prevent_convergence() {
    let key = Keyring::generate();
    let faulty = |seed: u64, seeds: Vec<std::net::SocketAddr>| {
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .seeds(seeds)
            .faults(Faults {
                loss: 0.25,
                duplicate: 0.25,
                max_delay: Duration::from_millis(40),
                seed,
            })
    };
    let first = start_with(faulty(1, Vec::new())).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for i in 2..=4 {
        nodes.push(start_with(faulty(i, vec![seed])).await);
    }
    let sets: Vec<Replica<GSet<u64>>> = nodes.iter().map(|n| n.open("s").expect("open")).collect();
    for round in 0..25u64 {
        for (i, s) in sets.iter().enumerate() {
            s.update(|st, _| Some(st.insert_delta(round * 10 + i as u64)))
                .await
                .expect("update");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for("convergence despite faults", || {
        sets.iter().all(|s| s.read(|s| s.len() == 100))
    })
    .await;
    let all = sets[0].snapshot();
    assert!(sets.iter().all(|s| s.snapshot() == all));
    assert!(
        nodes.iter().any(|n| n.metrics().replayed > 0),
        "duplicates happened"
    );
}
