//! A chat room replicated between processes: every line typed goes into a grow-only set of
//! messages that every node holds.
//!
//! Three terminals on one machine:
//!
//! ```text
//! cargo run -p gossip-net --example chat -- 7001
//! cargo run -p gossip-net --example chat -- 7002 7001
//! cargo run -p gossip-net --example chat -- 7003 7001
//! ```
//!
//! The first argument is the port to listen on (UDP and TCP, 127.0.0.1), the rest are ports of
//! nodes to join through. With `GOSSIP_KEY` set (64 hex digits, the same on every node; the
//! example prints a fresh one when it runs without) messages are sealed; without it they
//! travel in plaintext, which is fine on loopback only.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use gossip_crdt::GSet;
use gossip_net::{Event, Keyring, NodeBuilder};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A message: milliseconds since the epoch, author, text. Sorted by time in the set.
type Message = (u64, String, String);

fn port_addr(arg: &str) -> Result<SocketAddr, String> {
    let port: u16 = arg
        .parse()
        .map_err(|_| format!("{arg:?} is not a port number"))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(port) = args.first() else {
        eprintln!("usage: chat PORT [SEED_PORT...]   (GOSSIP_KEY=<64 hex digits> to seal)");
        std::process::exit(2);
    };
    let bind = port_addr(port)?;
    let seeds = args[1..]
        .iter()
        .map(|a| port_addr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let builder = NodeBuilder::new(bind).seeds(seeds);
    let builder = match std::env::var("GOSSIP_KEY") {
        Ok(hex) => builder.keyring(Keyring::from_hex(&hex)?),
        Err(_) => {
            eprintln!(
                "no GOSSIP_KEY: plaintext mode. To seal, run every node with GOSSIP_KEY={}",
                Keyring::generate().to_hex()
            );
            builder.insecure()
        }
    };
    let node = builder.start().await?;
    let me = format!("{}", node.local_addr().port());
    let room = node.open::<GSet<Message>>("room")?;
    println!(
        "node {} on {}; type a line and press enter",
        node.id(),
        node.local_addr()
    );

    let mut changes = room.subscribe();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(text) if text.trim() == "/members" => {
                    for m in node.members() {
                        println!("  {} {} {:?}", m.id, m.addr, m.state);
                    }
                }
                Some(text) if !text.trim().is_empty() => {
                    let at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
                    let msg = (at, me.clone(), text);
                    room.update(|s, _| Some(s.insert_delta(msg))).await?;
                }
                Some(_) => {}
                None => break,
            },
            event = changes.next() => match event {
                Some(Event::Changed { gained, from: Some(_) }) => {
                    for (_, who, text) in gained.iter() {
                        println!("<{who}> {text}");
                    }
                }
                Some(Event::Lagged { .. }) => {
                    println!("(missed some messages; {} in the room)", room.read(|s| s.len()));
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    node.shutdown().await?;
    Ok(())
}
