//! Durable updates per second on one redb store, each update its own commit against group
//! commit, at 1, 16 and 256 concurrent writers; and restart (open and load) time and memory
//! for a replica holding a 1,000,000-element `GSet<u64>`.
//!
//! ```text
//! cargo run --release -p gossip-store --example store_bench -- [DIR]
//! ```
//!
//! `DIR` (default: a directory under the system's temporary one) must be on the disk to
//! measure: on a tmpfs an fsync costs nothing. Work is counted, not timed: every run does a
//! fixed number of updates and reports how long they took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use gossip_crdt::{GSet, Lattice};
use gossip_store::{Batch, Committer, Durability, Journal, Op, RedbStore, Store};
use gossip_transport::{Config, Replicator, Time};

/// Updates per run: enough commits that one slow fsync does not decide the figure.
const UPDATES: usize = 4096;
const ELEMENTS: u64 = 1_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("load") {
        let dir = args.get(1).ok_or("load DIR")?;
        return load(Path::new(dir));
    }
    let root = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gossip-store-bench"));
    let _ = std::fs::remove_dir_all(&root);

    println!(
        "| writers | per-update commit (updates/s, commits) | group commit (updates/s, commits) |"
    );
    println!("|---:|---:|---:|");
    for writers in [1, 16, 256] {
        let single = updates(&root.join(format!("single-{writers}")), writers, false)?;
        let group = updates(&root.join(format!("group-{writers}")), writers, true)?;
        println!(
            "| {writers} | {:.0} ({}) | {:.0} ({}) |",
            single.0, single.1, group.0, group.1
        );
    }

    let dir = root.join("restart");
    save_big(&dir)?;
    let out = Command::new(std::env::current_exe()?)
        .arg("load")
        .arg(&dir)
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// `UPDATES` durable updates from `writers` threads; returns updates per second and commits.
fn updates(
    dir: &Path,
    writers: usize,
    group: bool,
) -> Result<(f64, u64), Box<dyn std::error::Error>> {
    let store = Arc::new(RedbStore::open(dir)?);
    let committer = Arc::new(Committer::start(Arc::clone(&store))?);
    let each = UPDATES / writers;
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(&store);
            let committer = Arc::clone(&committer);
            thread::spawn(move || -> Result<u64, gossip_store::StoreError> {
                let name = format!("r{w}");
                let mut commits = 0;
                for seq in 1..=each as u64 {
                    // A delta of a few elements, as an update of a set or counter encodes.
                    let batch: Batch = Op::Delta {
                        replica: name.clone(),
                        seq,
                        bytes: vec![seq as u8; 32],
                    }
                    .into();
                    if group {
                        committer.submit(batch, Durability::Immediate).wait()?;
                    } else {
                        store.commit(&batch, Durability::Immediate)?;
                        commits += 1;
                    }
                }
                Ok(commits)
            })
        })
        .collect();
    let mut commits = 0;
    for t in threads {
        commits += t.join().map_err(|_| "a writer panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if group {
        commits = committer.stats().commits;
    }
    Ok(((each * writers) as f64 / elapsed, commits))
}

/// A replica holding `ELEMENTS` elements, checkpointed and closed cleanly.
fn save_big(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = RedbStore::open(dir)?;
    let opened = Journal::open::<GSet<u64>>(&store, "big")?;
    let mut journal = opened.journal;
    let start = journal.start(Time::ZERO, 1, 1);
    let mut replica: Replicator<GSet<u64>, u32> =
        Replicator::new(1, vec![1], Config::default(), start);
    let started = Instant::now();
    for v in 0..ELEMENTS {
        let delta = replica.state().insert_delta(v);
        replica.update(Time::ZERO, delta);
        // The transport keeps every delta until peers hold them; alone, it drops them on
        // its timer. Driven here so the log does not hold a million deltas.
        if v % 65_536 == 0 {
            let now = replica.poll_timeout().unwrap_or(Time::ZERO);
            replica.handle_timeout(now);
        }
    }
    let built = started.elapsed();
    let started = Instant::now();
    let close = journal.close(replica.state(), replica.seen(), replica.issued())?;
    let bytes: usize = close.ops.iter().map(Op::size).sum();
    store.commit(&close, Durability::Immediate)?;
    println!(
        "saved {ELEMENTS} elements: checkpoint {:.1} MB, encoded and committed in {:.2} s (built in {:.1} s)",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    Ok(())
}

/// Opens the store, loads the replica and resumes it; prints time and peak memory.
fn load(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let before = rss_kib("VmRSS");
    let started = Instant::now();
    let store = RedbStore::open(dir)?;
    let opened_at = started.elapsed();
    let opened = Journal::open::<GSet<u64>>(&store, "big")?;
    let loaded_at = started.elapsed();
    let mut journal = opened.journal;
    let saved = opened.saved.ok_or("nothing saved")?;
    let start = journal.start(Time::ZERO, 1, 2);
    let replica: Replicator<GSet<u64>, u32> = Replicator::resume(
        1,
        vec![1],
        Config::default(),
        start,
        saved.state,
        saved.seen,
        saved.next_counter,
    );
    let resumed_at = started.elapsed();
    assert_eq!(replica.state().len() as u64, ELEMENTS);
    assert!(!replica.state().is_bottom());
    println!(
        "restart: open (with integrity check) {:.2} s, load and decode {:.2} s, resume {:.2} s, total {:.2} s",
        opened_at.as_secs_f64(),
        (loaded_at - opened_at).as_secs_f64(),
        (resumed_at - loaded_at).as_secs_f64(),
        resumed_at.as_secs_f64()
    );
    println!(
        "memory: resident {:.0} MiB after resume ({:.0} MiB at start), peak {:.0} MiB",
        rss_kib("VmRSS") as f64 / 1024.0,
        before as f64 / 1024.0,
        rss_kib("VmHWM") as f64 / 1024.0
    );
    Ok(())
}

/// A figure from `/proc/self/status`, in KiB (0 where there is none).
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
