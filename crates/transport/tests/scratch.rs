mod common;
use std::time::Duration;
use common::{Cluster, Faults};
use gossip_transport::{Config, Overlay, Strategy};
fn ms(n: u64) -> Duration { Duration::from_millis(n) }
#[test]
fn scratch() {
    let config = Config { strategy: Strategy::Tree, overlay: Overlay::Kary { k: 2 }, flush: ms(0), relay_flush: ms(20), ack_delay: ms(50), rto: ms(100), max_rto: ms(400), suspect_after: ms(300), max_packet_bytes: 256 };
    let faults = Faults { latency: ms(5), jitter: ms(7), p_loss: 0.1, p_dup: 0.1 };
    let mut c = Cluster::new(7, config, faults, 14236161183676958218);
    c.trace = true;
    c.update(4, 1); c.run_for(ms(1));
    c.restart(0); c.run_for(ms(1));
    c.restart(4); c.run_for(ms(1));
    c.run_for(ms(420)); c.run_for(ms(1));
    c.heal(); c.faults.p_loss = 0.0; c.faults.p_dup = 0.0;
    c.run_for(Duration::from_secs(30));
    for n in &c.nodes { eprintln!("{:?} inc {} targets {:?} state {:?} quiescent {} timeout {:?}", n.me(), n.incarnation(), n.eager_targets(), n.state(), n.is_quiescent(), n.poll_timeout()); }
    panic!();
}
