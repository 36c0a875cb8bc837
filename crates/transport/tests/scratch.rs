mod common;
use std::time::Duration;
use common::{Cluster, Faults};
use gossip_transport::{Config, Overlay, Strategy};
fn ms(n: u64) -> Duration { Duration::from_millis(n) }
#[test]
#[ignore]
fn scratch() {
    let config = Config { strategy: Strategy::Tree, overlay: Overlay::Star { hubs: 3 }, flush: ms(0), relay_flush: ms(20), ack_delay: ms(50), rto: ms(100), max_rto: ms(400), suspect_after: ms(300), max_packet_bytes: 256 };
    let faults = Faults { latency: ms(5), jitter: ms(3), p_loss: 0.3, p_dup: 0.2 };
    let mut c = Cluster::new(7, config, faults, 9689005375399126307);
    let mut v = 0;
    for op in ["W788","R1","U4","U4","U5","R4","W728","R1"] {
        let n: u64 = op[1..].parse().unwrap();
        match &op[..1] { "W" => { c.run_for(ms(n)); }, "R" => c.restart(n as u32), "U" => { v += 1; c.update(n as u32, v) }, _ => {} }
        c.run_for(ms(1));
    }
    c.heal(); c.faults.p_loss = 0.0; c.faults.p_dup = 0.0;
    c.run_for(Duration::from_secs(30));
    c.trace = true;
    c.run_for(Duration::from_secs(1));
    for n in &c.nodes { eprintln!("{:?} inc {} targets {:?} state {:?} quiescent {} timeout {:?}", n.me(), n.incarnation(), n.eager_targets(), n.state(), n.is_quiescent(), n.poll_timeout()); }
    panic!();
}
