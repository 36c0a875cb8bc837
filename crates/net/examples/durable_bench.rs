//! Durable updates per second through the shell: one node with a data directory,
//! `AckLevel::Durable` updates of a G-Set from 1, 16 and 256 concurrent writers.
//!
//! ```text
//! cargo run --release -p gossip-net --example durable_bench -- [--updates N] [--dir DIR]
//! ```
//!
//! Prints, per writer count: updates, seconds, updates/s, commits made (each one fsync) and
//! updates per commit. `--dir` picks the file system measured (default: the system's
//! temporary directory).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gossip_crdt::GSet;
use gossip_net::{AckLevel, NodeBuilder};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let updates: u64 = arg("--updates").map_or(Ok(4096), |n| n.parse())?;
    let base = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    println!("writers  updates  seconds  updates/s  commits  updates/commit");
    for writers in [1u64, 16, 256] {
        let dir = base.join(format!(
            "gossip-durable-bench-{}-{writers}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let node = NodeBuilder::new("127.0.0.1:0".parse()?)
            .insecure()
            .data_dir(&dir)
            .start()
            .await?;
        let set = node.open::<GSet<u64>>("bench")?;
        let before = node.metrics().store_commits;
        let per_writer = updates.div_ceil(writers);
        let start = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let set = set.clone();
                tokio::spawn(async move {
                    for i in 0..per_writer {
                        let v = w * per_writer + i;
                        set.update_with(AckLevel::Durable, Duration::from_secs(60), move |s, _| {
                            Some(s.insert_delta(v))
                        })
                        .await?;
                    }
                    Ok::<(), gossip_net::UpdateError>(())
                })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        let secs = start.elapsed().as_secs_f64();
        let done = per_writer * writers;
        let commits = node.metrics().store_commits - before;
        println!(
            "{writers:>7}  {done:>7}  {secs:>7.2}  {:>9.0}  {commits:>7}  {:>14.1}",
            done as f64 / secs,
            done as f64 / commits.max(1) as f64
        );
        node.shutdown().await?;
        drop(set);
        drop(node);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
