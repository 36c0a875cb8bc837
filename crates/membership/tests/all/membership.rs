//! Small scenarios: refused input, graceful leave, rejoin after being declared down, seeds
//! asked again.

use crate::sim;

use std::time::Duration;

use gossip_membership::{Config, Identity, MemberEvent, MemberState, Membership, MembershipError};
use gossip_transport::Time;
use sim::{Net, addr, fresh_id};
use uuid::Uuid;

fn small_cluster(seed: u64, n: u32) -> Net {
    let mut net = Net::new(seed, Config::lan_sized(n), false);
    for i in 0..n {
        let id = fresh_id(&mut net.rng);
        net.start(Identity::new(id, addr(i), 1), &[addr(0)]);
    }
    net.run_for(Duration::from_secs(10));
    assert!(
        net.disagreeing().is_empty(),
        "seed {seed}: cluster did not form"
    );
    net
}

#[test]
fn garbage_is_refused_without_changing_anything() {
    let me = Identity::new(Uuid::from_u128(1), addr(1), 1);
    let mut m = Membership::new(me, Config::lan(), 3);
    let inputs: [&[u8]; 5] = [&[], &[9, 1, 2], &[0, 0xff, 0xff, 0xff], &[1, 0xff], &[0]];
    for bytes in inputs {
        assert!(
            m.handle_data(Time::ZERO, bytes).is_err(),
            "{bytes:?} accepted"
        );
    }
    assert!(matches!(
        m.handle_data(Time::ZERO, &[]),
        Err(MembershipError::Empty)
    ));
    assert_eq!(m.stats().refused, 6);
    assert_eq!(m.poll_event(), None);
    assert_eq!(m.poll_transmit(), None);
    assert_eq!(m.members().len(), 1);
    assert!(matches!(
        m.join(Time::ZERO, addr(1)),
        Err(MembershipError::JoinSelf { .. })
    ));
}

#[test]
fn a_graceful_leave_is_reported_as_left_by_everyone() {
    let mut net = small_cluster(3, 8);
    let leaver = *net.nodes[&addr(4)].membership.me();
    net.leave(addr(4));
    net.run_for(Duration::from_secs(5));
    assert!(net.disagreeing().is_empty());
    for node in net.nodes.values() {
        let row = node
            .membership
            .members()
            .into_iter()
            .find(|m| m.id == leaver.id)
            .expect("still listed");
        assert_eq!(row.state, MemberState::Left, "{}", node.membership.me());
    }
    let reports = net
        .events
        .iter()
        .filter(|s| s.event == MemberEvent::Left(leaver))
        .count();
    assert_eq!(reports, 7);
}

#[test]
fn a_member_cut_off_until_declared_down_rejoins_under_a_renewed_identity() {
    let mut net = small_cluster(4, 6);
    let before = *net.nodes[&addr(2)].membership.me();
    net.side.insert(addr(2), 1);
    net.run_for(Duration::from_secs(30));
    // Everyone else has declared it down.
    for (a, node) in &net.nodes {
        if *a != addr(2) {
            assert!(!node.membership.active_ids().contains(&before.id));
        }
    }
    net.side.clear();
    // Periodic announcements to down members (65 s in the LAN preset) bring it back.
    net.run_for(Duration::from_secs(150));
    assert!(net.disagreeing().is_empty());
    let after = *net.nodes[&addr(2)].membership.me();
    assert_eq!((after.id, after.start()), (before.id, before.start()));
    assert!(after.generation > before.generation, "{after} not renewed");
    assert!(
        net.events
            .iter()
            .any(|s| s.node == addr(2) && matches!(s.event, MemberEvent::Rejoined(_)))
    );
    assert_eq!(net.reused_identity, None);
}

/// A member that nobody hears (it still hears them) is declared down and renews its identity;
/// the packets announcing the renewal are lost. Its own asks to be let in, not the others'
/// occasional announcements to down members, must bring it back into every view. Run for
/// seeded members and others, on a few seeds.
#[test]
fn a_renewed_member_whose_announcement_was_lost_is_back_in_every_view_within_rejoin_intervals() {
    for (seed, victim) in [(7, addr(2)), (8, addr(0)), (9, addr(4)), (10, addr(5))] {
        let mut net = small_cluster(seed, 6);
        let before = *net.nodes[&victim].membership.me();
        let step = Duration::from_millis(10);
        net.muted.insert(victim);
        let mut steps = 0;
        let renewed = loop {
            net.run_for(step);
            steps += 1;
            assert!(steps < 6_000, "seed {seed}: {before} never renewed");
            let me = *net.nodes[&victim].membership.me();
            if me != before {
                break me;
            }
        };
        // Everything it said since it renewed is lost; from now on it is heard again.
        net.muted.clear();
        assert_eq!((renewed.id, renewed.start()), (before.id, before.start()));
        let config = net.config.clone();
        let bound = config.rejoin_interval * 2 + config.swim.probe_period * 2;
        let back_in = |net: &Net| {
            let me = *net.nodes[&victim].membership.me();
            net.nodes.iter().all(|(a, node)| {
                *a == victim
                    || node.membership.members().iter().any(|m| {
                        m.addr == victim && m.incarnation == me.generation && m.state.is_active()
                    })
            }) && net.disagreeing().is_empty()
        };
        let mut waited = Duration::ZERO;
        while !back_in(&net) {
            assert!(
                waited < bound,
                "seed {seed}: {renewed} not back in every view {bound:?} after renewing: {:?}",
                net.views()
            );
            net.run_for(step);
            waited += step;
        }
        assert_eq!(net.reused_identity, None, "seed {seed}");
    }
}

#[test]
fn a_node_whose_seed_was_unreachable_joins_once_it_answers() {
    let mut net = small_cluster(5, 4);
    // The newcomer's only seed is cut off when it starts.
    net.side.insert(addr(0), 1);
    let id = fresh_id(&mut net.rng);
    net.start(Identity::new(id, addr(9), 1), &[addr(0)]);
    net.run_for(Duration::from_secs(3));
    assert!(net.nodes[&addr(9)].membership.active_ids().is_empty());
    net.side.clear();
    net.run_for(Duration::from_secs(90));
    assert!(net.disagreeing().is_empty(), "{:?}", net.views());
}

/// Gossip only tells a newcomer about changes still being spread; the periodic state exchange
/// teaches it the members that joined before it. 200 nodes join in two seconds through one seed.
#[test]
fn newcomers_learn_every_member_that_joined_before_them() {
    let n = 200;
    let mut net = Net::new(6, Config::lan_sized(n), false);
    for i in 0..n {
        let id = fresh_id(&mut net.rng);
        net.start(Identity::new(id, addr(i), 1), &[addr(0)]);
        net.run_for(Duration::from_millis(10));
    }
    net.run_for(Duration::from_secs(150));
    let disagreeing = net.disagreeing();
    assert!(
        disagreeing.is_empty(),
        "{} of {n} members lack part of the view",
        disagreeing.len()
    );
}
