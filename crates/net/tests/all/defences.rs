//! What a node does with input it should not trust: a node with the wrong key, garbage
//! datagrams, huge frames, replays, and a network that loses, duplicates and reorders.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gossip_crdt::{GSet, Lattice};
use gossip_net::{Faults, Keyring, Limits, NodeBuilder, Replica};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A node of another label stays outside with the same key (the label is bound to sealed
/// messages, not sent) and in plaintext mode (the label is sent and checked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_label_stays_outside_sealed_or_not() {
    let key = Keyring::generate();
    for sealed in [true, false] {
        let builder = |label: &str| {
            let b = NodeBuilder::new(any_port()).label(label);
            if sealed {
                b.keyring(key.clone())
            } else {
                b.insecure()
            }
        };
        let ours = start_with(builder("ours")).await;
        let theirs = start_with(builder("theirs").seeds(vec![ours.local_addr()])).await;
        wait_for("join requests of the other label to be refused", || {
            let m = ours.metrics();
            let refused = if sealed {
                m.refused_unsealed
            } else {
                m.refused_label
            };
            refused >= 2 && theirs.metrics().membership_sent >= 2
        })
        .await;
        // A node of the same label is let in meanwhile.
        let friend = start_with(builder("ours").seeds(vec![ours.local_addr()])).await;
        wait_for("a node of the same label to join", || {
            ours.members().len() == 1 && friend.members().len() == 1
        })
        .await;
        assert!(ours.members().iter().all(|m| m.id == friend.id()));
        assert!(theirs.members().is_empty(), "sealed: {sealed}");
        let m = ours.metrics();
        assert_eq!(m.refused_invalid, 0, "sealed: {sealed}");
        if sealed {
            assert_eq!(m.refused_label, 0);
        } else {
            assert_eq!(m.refused_unsealed, 0);
        }
    }
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
            *b = 2;
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

/// Writes one byte every 20 ms until the node closes the connection; returns the bytes
/// written.
async fn trickle(mut stream: TcpStream) -> usize {
    let mut written = 0;
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => return written,
                Ok(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if stream.write_all(&[0]).await.is_err() {
                    return written;
                }
                written += 1;
            }
        }
    }
}

/// Resolves when the node closes `stream` (it never sends on an inbound connection).
async fn closed(mut stream: TcpStream) {
    let mut buf = [0u8; 64];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

/// `from` writes one delta of about 5 KB (several datagrams' worth, so it travels as a TCP
/// frame), and it arrives at `to`.
async fn large_delta_arrives(from: &Replica<GSet<u64>>, to: &Replica<GSet<u64>>) {
    from.update(|s, _| {
        let mut delta = GSet::new();
        for i in 0..1000u64 {
            delta.join(&s.insert_delta(i << 32));
        }
        Some(delta)
    })
    .await
    .expect("update");
    wait_for("the large delta to arrive", || to.read(|s| s.len() == 1000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_trickling_frames_are_closed_and_the_node_keeps_serving() {
    let key = Keyring::generate();
    let limits = Limits {
        unauthenticated_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let builder = |seeds| {
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .seeds(seeds)
            .limits(limits)
    };
    let first = start_with(builder(Vec::new())).await;
    let target = first.local_addr();
    // One announces a frame of 1 MiB (under `max_frame_bytes`, over the hello's limit), the
    // other one of 300 bytes (room for a hello); both trickle it a byte at a time.
    let mut large = TcpStream::connect(target).await.expect("connect");
    large
        .write_all(&(1u32 << 20).to_be_bytes())
        .await
        .expect("write");
    let mut small = TcpStream::connect(target).await.expect("connect");
    small.write_all(&300u32.to_be_bytes()).await.expect("write");
    let large = tokio::spawn(trickle(large));
    let small = tokio::spawn(trickle(small));
    within("the node to close both stranger connections", async {
        let _ = large.await;
        let _ = small.await;
    })
    .await;
    let m = first.metrics();
    assert_eq!(m.refused_frame_too_large, 1, "the 1 MiB announcement");
    assert_eq!(m.refused_hello_late, 1, "the trickled 300 bytes");
    assert_eq!((m.tcp_accepted, m.tcp_authenticated), (2, 0));
    wait_for("the readers to end", || {
        first.metrics().tcp_unauthenticated == 0
    })
    .await;

    // Honest nodes still replicate a delta too large for a datagram, over TCP.
    let second = start_with(builder(vec![target])).await;
    let sets: Vec<Replica<GSet<u64>>> = [&first, &second]
        .iter()
        .map(|n| n.open("s").expect("open"))
        .collect();
    wait_for("the nodes to see each other", || {
        sets.iter().all(|s| s.members().len() == 1)
    })
    .await;
    large_delta_arrives(&sets[1], &sets[0]).await;
    let m = first.metrics();
    assert!(m.tcp_authenticated >= 1 && m.tcp_received >= 2);
    assert_eq!(m.refused_hello, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_holding_every_waiting_place_do_not_keep_an_honest_node_out() {
    let key = Keyring::generate();
    // The per-address limit is out of the way: every stranger is on loopback. Strangers'
    // connections would wait far longer than the test.
    let limits = Limits {
        max_connections_per_ip: 64,
        max_unauthenticated_connections: 4,
        unauthenticated_timeout: PATIENCE * 2,
        ..Limits::default()
    };
    let node = start_with(
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .limits(limits),
    )
    .await;
    let target = node.local_addr();
    let closed_count = Arc::new(AtomicUsize::new(0));
    let mut strangers = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(target).await.expect("connect");
        // Half a length prefix, then nothing.
        let _ = s.write_all(&[0, 0]).await;
        let count = closed_count.clone();
        strangers.push(tokio::spawn(async move {
            closed(s).await;
            count.fetch_add(1, Ordering::Relaxed);
        }));
    }
    wait_for("the oldest connections over the bound to be closed", || {
        let m = node.metrics();
        closed_count.load(Ordering::Relaxed) == 8 && m.evicted_unauthenticated == 8
    })
    .await;
    let m = node.metrics();
    assert_eq!((m.tcp_accepted, m.tcp_unauthenticated), (12, 4));
    assert_eq!(m.refused_connections, 0);

    // Four strangers still hold every place: an honest node connects over TCP all the same
    // (its connection takes the oldest stranger's place and sends its hello at once), and its
    // large delta arrives.
    let other = start(&key, vec![target]).await;
    let ours: Replica<GSet<u64>> = node.open("s").expect("open");
    let theirs: Replica<GSet<u64>> = other.open("s").expect("open");
    wait_for("the nodes to see each other", || ours.members().len() == 1).await;
    large_delta_arrives(&theirs, &ours).await;
    let m = node.metrics();
    assert!(m.tcp_authenticated >= 1);
    assert!(m.evicted_unauthenticated >= 9, "a stranger made room");
    assert!(m.tcp_unauthenticated <= 4);
    for s in &strangers {
        s.abort();
    }
}
