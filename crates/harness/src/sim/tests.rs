//! The simulation host on its own: clock, faults and logs.

use super::*;

fn host(end: Time) -> SimHost {
    SimHost::new(SimConfig {
        node_args: vec!["broadcast".into()],
        seed: 1,
        log_dir: None,
        log_stderr: false,
        end,
        threads: 2,
        disk: SimDisk::None,
    })
}

#[test]
fn a_run_that_cannot_end_is_stopped() {
    let mut h = host(Time::from_millis(1000));
    assert!(h.start(&[]).is_ok());
    // Nothing scheduled at all.
    assert!(matches!(h.next_event(None), HostEvent::Stuck { .. }));
    // A deadline within the end is reached at once, one past it is refused.
    assert_eq!(
        h.next_event(Some(Time::from_millis(500))),
        HostEvent::Timeout {
            now: Time::from_millis(500)
        }
    );
    assert!(matches!(
        h.next_event(Some(Time::from_millis(2000))),
        HostEvent::Stuck { .. }
    ));
    // Bad node settings are refused before anything runs.
    let mut bad = SimHost::new(SimConfig {
        node_args: vec!["broadcast".into(), "colour=blue".into()],
        ..host(Time::ZERO).config
    });
    assert!(bad.start(&[NodeId("n0".into())]).is_err());
}

#[test]
fn a_node_answers_at_the_instant_it_is_asked_and_pauses_and_dies() {
    let mut h = host(Time::from_millis(60_000));
    let nodes = [NodeId("n0".into()), NodeId("n1".into())];
    assert!(h.start(&nodes).is_ok());
    let init = |i: usize| {
        format!(
            r#"{{"id":{i},"src":"c{i}","dest":"n{i}","body":{{"type":"init","node_id":"n{i}","node_ids":["n0","n1"],"msg_id":1}}}}"#
        )
    };
    h.deliver(NodeIndex(0), init(0));
    let HostEvent::Line { node, line, at, .. } = h.next_event(None) else {
        panic!("expected init_ok")
    };
    assert_eq!((node, at), (NodeIndex(0), Time::ZERO));
    assert!(line.contains("init_ok"), "{line}");
    // Everything else the nodes say until `t` (n0 greets its peer, and so on).
    let said = |h: &mut SimHost, t: u64| {
        let mut lines = Vec::new();
        loop {
            match h.next_event(Some(Time::from_millis(t))) {
                HostEvent::Line { node, .. } => lines.push(node),
                HostEvent::Timeout { now } => {
                    assert_eq!(now, Time::from_millis(t));
                    return lines;
                }
                other => panic!("{other:?}"),
            }
        }
    };
    // Paused: deliveries wait, and are answered on resume.
    assert!(h.control(NodeIndex(1), Control::Pause).is_ok());
    h.deliver(NodeIndex(1), init(1));
    assert!(!said(&mut h, 10).contains(&NodeIndex(1)));
    assert!(h.control(NodeIndex(1), Control::Resume).is_ok());
    let HostEvent::Line { node, line, at, .. } = h.next_event(None) else {
        panic!("expected init_ok after resume")
    };
    assert_eq!((node, at), (NodeIndex(1), Time::from_millis(10)));
    assert!(line.contains("init_ok"), "{line}");
    said(&mut h, 15);
    // Killed: deliveries vanish; restarted: a new, empty life answers init again.
    assert!(h.control(NodeIndex(1), Control::Kill).is_ok());
    h.deliver(NodeIndex(1), init(1));
    assert!(!said(&mut h, 20).contains(&NodeIndex(1)));
    assert!(h.control(NodeIndex(1), Control::Restart).is_ok());
    h.deliver(NodeIndex(1), init(1));
    let log = h.log_lines(NodeIndex(1)).join("\n");
    assert!(
        log.contains("KILLED") && log.contains("RESTARTED (life 1"),
        "{log}"
    );
    // The core's own events: under the node that logged them, stamped with virtual time.
    let first = |i: usize| {
        h.log_lines(NodeIndex(i))
            .first()
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        first(0).starts_with("[0.000s]") && first(0).contains("INFO initialised node=n0"),
        "{}",
        first(0)
    );
    assert!(
        first(1).starts_with("[0.010s]") && first(1).contains("INFO initialised node=n1"),
        "{}",
        first(1)
    );
    assert_eq!(h.stats().lines_in, 3);
}

#[test]
fn node_seeds_differ_by_node_and_life() {
    let a = node_seed(1, 0, 0);
    assert_ne!(a, node_seed(1, 1, 0));
    assert_ne!(a, node_seed(1, 0, 1));
    assert_ne!(a, node_seed(2, 0, 0));
    assert_eq!(a, node_seed(1, 0, 0));
}

/// A one-node cluster on `disk`: a broadcast of 7 is answered, then the node dies (`how`) and
/// restarts; returns its answer to a read in its next life.
fn read_after(disk: SimDisk, how: Control) -> String {
    let mut h = SimHost::new(SimConfig {
        disk,
        ..host(Time::from_millis(60_000)).config
    });
    assert!(h.start(&[NodeId("n0".into())]).is_ok());
    let init = r#"{"src":"c0","dest":"n0","body":{"type":"init","node_id":"n0","node_ids":["n0"],"msg_id":1}}"#;
    let ask = |h: &mut SimHost, line: &str, until: u64| -> Vec<String> {
        h.deliver(NodeIndex(0), line.to_owned());
        let mut lines = Vec::new();
        while let HostEvent::Line { line, .. } = h.next_event(Some(Time::from_millis(until))) {
            lines.push(line);
        }
        lines
    };
    assert!(ask(&mut h, init, 1)[0].contains("init_ok"));
    let said = ask(
        &mut h,
        r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","message":7,"msg_id":2}}"#,
        2,
    );
    assert!(said.iter().any(|l| l.contains("broadcast_ok")), "{said:?}");
    assert!(h.control(NodeIndex(0), how).is_ok());
    assert!(h.control(NodeIndex(0), Control::Restart).is_ok());
    assert!(ask(&mut h, init, 3)[0].contains("init_ok"));
    let said = ask(
        &mut h,
        r#"{"src":"c1","dest":"n0","body":{"type":"read","msg_id":3}}"#,
        4,
    );
    let log = h.log_lines(NodeIndex(0)).join("\n");
    said.into_iter()
        .find(|l| l.contains("read_ok"))
        .unwrap_or_else(|| panic!("no read_ok; log:\n{log}"))
}

#[test]
fn a_crash_keeps_what_the_disk_committed_and_a_kill_takes_the_disk() {
    let kept = r#""messages":[7]"#;
    assert!(read_after(SimDisk::Durable, Control::Crash).contains(kept));
    assert!(!read_after(SimDisk::Durable, Control::Kill).contains(kept));
    assert!(!read_after(SimDisk::Lying, Control::Crash).contains(kept));
    assert!(!read_after(SimDisk::None, Control::Crash).contains(kept));
}
