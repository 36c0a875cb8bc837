//! Golden JSON for the wire format: a serde change that alters what travels between nodes
//! must fail here (old and new nodes have to understand each other).

use gossip_crdt::{CausalContext, Dot, GSet};
use gossip_transport::{Ack, Packet, ReplicaId, Run};

fn golden(packet: &Packet<GSet<u64>>, json: &str) {
    assert_eq!(serde_json::to_string(packet).expect("serialises"), json);
    let back: Packet<GSet<u64>> = serde_json::from_str(json).expect("parses");
    assert_eq!(&back, packet);
}

#[test]
fn an_ack_is_tiny() {
    let mut p = Packet::new(7);
    p.ack = Some(Ack {
        inc: 9,
        seq: 12,
        to: None,
    });
    golden(&p, r#"{"inc":7,"ack":[9,12]}"#);
}

#[test]
fn a_push_carries_runs() {
    let mut p = Packet::new(7);
    p.seq = Some((4, 4));
    p.runs = vec![
        Run {
            origin: ReplicaId(31),
            first: 3,
            deltas: vec![[42].into_iter().collect(), [43].into_iter().collect()],
        },
        Run {
            origin: ReplicaId(5),
            first: 1,
            deltas: vec![GSet::new()],
        },
    ]
    .into();
    golden(
        &p,
        r#"{"inc":7,"seq":[4,4],"runs":[[31,3,[[42],[43]]],[5,1,[[]]]]}"#,
    );
}

#[test]
fn a_restarted_link_and_a_pull() {
    let mut have: CausalContext<ReplicaId> = CausalContext::new();
    have.insert(Dot {
        replica: ReplicaId(31),
        counter: 1,
    });
    have.insert(Dot {
        replica: ReplicaId(31),
        counter: 3,
    });
    let mut p = Packet::new(8);
    p.to = Some(2);
    p.seq = Some((1, 3));
    p.ack = Some(Ack {
        inc: 9,
        seq: 2,
        to: Some(8),
    });
    p.have = Some(have);
    p.pull = true;
    p.relay = Some(true);
    golden(
        &p,
        r#"{"inc":8,"to":2,"seq":[1,3],"ack":[9,2,8],"have":{"vv":{"31":1},"cloud":[[31,3]]},"pull":true,"relay":true}"#,
    );
}

#[test]
fn malformed_packets_are_refused_by_the_decoder() {
    for bad in [
        r#"{}"#,
        r#"{"inc":"seven"}"#,
        r#"{"inc":1,"ack":[1]}"#,
        r#"{"inc":1,"ack":[1,2,3,4]}"#,
        r#"{"inc":1,"runs":[[1,2]]}"#,
        r#"{"inc":1,"seq":[1]}"#,
        r#"{"inc":-1}"#,
    ] {
        assert!(
            serde_json::from_str::<Packet<GSet<u64>>>(bad).is_err(),
            "accepted {bad}"
        );
    }
}
