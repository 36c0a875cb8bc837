//! The node with a disk: writes answered only once committed, the lease committed before a
//! packet leaves, and a restart that resumes from what was committed (in memory through
//! `MemStore`, and on disk through the binary's `--data-dir`).

use std::io::Write;
use std::process::{Command, Stdio};

use gossip_node::{Birth, Node, Options};
use gossip_store::{Durability, MemStore, Op, Store};
use gossip_transport::Time;

const INIT: &str = r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1","n2"],"msg_id":1}}"#;

fn add(msg_id: u64, element: i64) -> String {
    format!(
        r#"{{"src":"c1","dest":"n1","body":{{"type":"add","element":{element},"msg_id":{msg_id}}}}}"#
    )
}

fn read(msg_id: u64) -> String {
    format!(r#"{{"src":"c1","dest":"n1","body":{{"type":"read","msg_id":{msg_id}}}}}"#)
}

fn node(store: &MemStore, life: u64) -> Node {
    let options = Options::parse(&["g-set"]).expect("valid");
    Node::with_store(options, Birth { seed: 7, life }, Box::new(store.clone()))
}

fn drain(node: &mut Node) -> Vec<String> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// Commits whatever the node asks for, as a shell does; returns how many commits.
fn commit_all(node: &mut Node, store: &MemStore, now: Time) -> usize {
    let mut n = 0;
    while let Some(commit) = node.poll_commit() {
        let result = store.commit(&commit.batch, Durability::Immediate);
        node.handle_committed(now, commit.number, result);
        n += 1;
    }
    n
}

#[test]
fn a_write_is_answered_and_sent_only_once_its_commit_is_durable() {
    let store = MemStore::new();
    let mut n = node(&store, 1);
    n.handle_line(Time::ZERO, INIT);
    assert!(drain(&mut n)[0].contains("init_ok"));
    n.handle_line(Time::ZERO, &add(2, 5));
    n.handle_line(Time::ZERO, &read(3));
    // Neither the answer, nor the read that would show the write, nor the packet that
    // carries it (its id is not leased yet) leaves before the commit.
    assert_eq!(drain(&mut n), Vec::<String>::new());
    let commit = n.poll_commit().expect("a commit is due");
    assert!(n.poll_commit().is_none(), "one commit in flight at a time");
    assert!(
        matches!(
            commit.batch.ops.as_slice(),
            [Op::Delta { .. }, Op::Lease { .. }]
        ),
        "{:?}",
        commit.batch
    );
    let result = store.commit(&commit.batch, Durability::Immediate);
    n.handle_committed(Time::ZERO, commit.number, result);
    let out = drain(&mut n);
    assert!(out[0].contains("add_ok"), "{out:?}");
    assert!(out[1].contains(r#""value":[5]"#), "{out:?}");
    assert!(
        out[2..].iter().any(|l| l.contains(r#""type":"gossip""#)),
        "{out:?}"
    );
    // The next write needs no new lease: one op.
    n.handle_line(Time::ZERO, &add(4, 6));
    let commit = n.poll_commit().expect("a commit is due");
    assert!(matches!(commit.batch.ops.as_slice(), [Op::Delta { .. }]));
}

#[test]
fn a_failed_commit_holds_the_answer_and_is_tried_again() {
    let store = MemStore::new();
    let mut n = node(&store, 1);
    n.handle_line(Time::ZERO, INIT);
    drain(&mut n);
    n.handle_line(Time::ZERO, &add(2, 5));
    let commit = n.poll_commit().expect("a commit is due");
    store.set_capacity(Some(0));
    let result = store.commit(&commit.batch, Durability::Immediate);
    assert!(result.is_err());
    n.handle_committed(Time::ZERO, commit.number, result);
    assert!(drain(&mut n).is_empty());
    assert!(n.poll_commit().is_none(), "not again before the next input");
    store.set_capacity(None);
    n.handle_timeout(Time::from_millis(10));
    assert_eq!(commit_all(&mut n, &store, Time::from_millis(10)), 1);
    assert!(drain(&mut n)[0].contains("add_ok"));
}

#[test]
fn a_restart_keeps_every_committed_write_and_loses_the_rest() {
    let store = MemStore::new();
    let mut n = node(&store, 1);
    n.handle_line(Time::ZERO, INIT);
    n.handle_line(Time::ZERO, &add(2, 5));
    commit_all(&mut n, &store, Time::ZERO);
    n.handle_line(Time::ZERO, &add(3, 6));
    let out = drain(&mut n);
    assert!(
        out.iter()
            .any(|l| l.contains("add_ok") && l.contains(r#""in_reply_to":2"#))
    );
    assert!(
        !out.iter().any(|l| l.contains(r#""in_reply_to":3"#)),
        "6 is not committed"
    );
    // Power loss before 6 is committed.
    let disk = store.crash();
    let mut n = node(&disk, 2);
    n.handle_line(Time::ZERO, INIT);
    // What the disk held leaves as the new life's first write (under a new lease), so a
    // peer that never got 5 gets it like any write.
    assert_eq!(commit_all(&mut n, &disk, Time::ZERO), 1);
    let out = drain(&mut n);
    assert!(
        out.iter()
            .any(|l| l.contains(r#""runs":[["#) && l.contains(",1,[[5]]]]")),
        "{out:?}"
    );
    n.handle_line(Time::ZERO, &read(2));
    let out = drain(&mut n);
    assert!(out.iter().any(|l| l.contains(r#""value":[5]"#)), "{out:?}");
}

#[test]
fn a_clean_close_keeps_the_replica_id_and_a_crash_does_not() {
    // One life: a write, committed; its replica id as the gossip shows it
    // (`"runs":[[ORIGIN,FIRST,DELTAS]]`); then a clean close, or not.
    let life = |store: &MemStore, life: u64, close: bool| -> String {
        let mut n = node(store, life);
        n.handle_line(Time::ZERO, INIT);
        let msg_id = life + 1;
        n.handle_line(Time::ZERO, &add(msg_id, i64::try_from(life).unwrap_or(0)));
        commit_all(&mut n, store, Time::ZERO);
        let out = drain(&mut n);
        let gossip = out
            .iter()
            .find(|l| l.contains(r#""runs""#))
            .unwrap_or_else(|| panic!("no run sent: {out:?}"));
        let at = gossip.find(r#""runs":[["#).map_or(0, |at| at + 9);
        let origin = gossip[at..].split(',').next().unwrap_or("").to_owned();
        if close {
            let last = n.close().expect("encodes").expect("a replicated workload");
            store
                .commit(&last.batch, Durability::Immediate)
                .expect("commits");
        }
        origin
    };
    let store = MemStore::new();
    let first = life(&store, 1, true);
    assert!(first.parse::<u64>().is_ok(), "{first}");
    let store = store.crash();
    assert_eq!(life(&store, 2, false), first, "kept after a clean close");
    let store = store.crash();
    assert_ne!(life(&store, 3, false), first, "fresh after a crash");
}

#[test]
fn without_a_store_nothing_waits() {
    let mut n = Node::new(
        Options::parse(&["g-set"]).expect("valid"),
        Birth { seed: 7, life: 1 },
    );
    n.handle_line(Time::ZERO, INIT);
    n.handle_line(Time::ZERO, &add(2, 5));
    assert!(n.poll_commit().is_none());
    assert!(drain(&mut n).iter().any(|l| l.contains("add_ok")));
}

/// Runs the binary on `dir` with `lines` on stdin (then end of input); returns its stdout.
fn run_binary(dir: &std::path::Path, lines: &[String]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gossip-node"))
        .args(["g-set", "--data-dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gossip-node runs");
    let mut stdin = child.stdin.take().expect("piped");
    for line in lines {
        writeln!(stdin, "{line}").expect("writes");
    }
    drop(stdin);
    let output = child.wait_with_output().expect("gossip-node ends");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_binary_keeps_its_replica_in_the_data_dir() {
    let dir = std::env::temp_dir().join(format!("gossip-node-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_binary(&dir, &[INIT.to_owned(), add(2, 5), add(3, 6)]);
    assert_eq!(out.matches("add_ok").count(), 2, "{out}");
    let out = run_binary(&dir, &[INIT.to_owned(), read(2)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.contains(r#""value":[5,6]"#), "{out}");
}

#[test]
fn a_checkpoint_cuts_the_delta_log_every_few_thousand_writes() {
    let store = MemStore::new();
    let mut n = node(&store, 1);
    n.handle_line(Time::ZERO, INIT);
    let mut checkpoints = 0;
    for i in 0..5000_u64 {
        n.handle_line(Time::ZERO, &add(i + 2, i64::try_from(i).unwrap_or(0)));
        if i % 100 != 99 {
            // Writes that come while a commit runs share the next one.
            continue;
        }
        while let Some(commit) = n.poll_commit() {
            checkpoints += commit
                .batch
                .ops
                .iter()
                .filter(|op| matches!(op, Op::Checkpoint { .. }))
                .count();
            let result = store.commit(&commit.batch, Durability::Immediate);
            n.handle_committed(Time::ZERO, commit.number, result);
        }
    }
    assert_eq!(checkpoints, 1);
    let image = store.load("g-set").expect("loads").expect("kept");
    assert!(image.checkpoint.is_some());
    assert!(image.deltas.len() < 1000, "{} deltas", image.deltas.len());
    // A restart reads the checkpoint and the deltas after it.
    let disk = store.crash();
    let mut n = node(&disk, 2);
    n.handle_line(Time::ZERO, INIT);
    commit_all(&mut n, &disk, Time::ZERO);
    n.handle_line(Time::ZERO, &read(2));
    let out = drain(&mut n);
    let read = out
        .iter()
        .find(|l| l.contains("read_ok"))
        .expect("a read_ok");
    assert!(
        read.contains("[0,1,2,") && read.contains(",4998,4999]"),
        "{}",
        &read[..100]
    );
    assert_eq!(read.matches(',').count(), 5000 + 4, "{}", &read[..100]);
}
