//! Helpers for the loopback tests: start nodes, wait for conditions with generous timeouts.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use gossip_net::{Keyring, Node, NodeBuilder};

/// How long any condition may take before a test fails: generous, since the machine is
/// shared with other builds.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn start(key: &Keyring, seeds: Vec<SocketAddr>) -> Node {
    start_with(
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .seeds(seeds),
    )
    .await
}

pub async fn start_with(builder: NodeBuilder) -> Node {
    match builder.start().await {
        Ok(n) => n,
        Err(e) => panic!("node did not start: {e}"),
    }
}

/// Waits until `cond` holds, checking every 20 ms; panics with `what` after [`PATIENCE`].
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `f`, failing the test after [`PATIENCE`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Starts `n` nodes, each seeded with the first.
pub async fn cluster(key: &Keyring, n: usize) -> Vec<Node> {
    let first = start(key, Vec::new()).await;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for _ in 1..n {
        nodes.push(start(key, vec![seed]).await);
    }
    nodes
}
