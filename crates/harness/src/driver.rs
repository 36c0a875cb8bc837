//! The drive loop: one owner, one loop, for any [`NodeHost`].
//!
//! After every input the loop drains the engine's output into the host and waits for the next
//! host event with the engine's next deadline as the timeout. It ends when the engine is
//! finished, then shuts the host down and applies Maelstrom's teardown check (a node that had
//! already exited crashes the test).

use crate::engine::{Command, Crash, Engine, RunRecord};
use crate::host::{HostEvent, NodeHost};
use crate::ids::NodeIndex;
use crate::progress::Progress;
use crate::time::Time;

/// Run `engine` to completion on `host`. `progress` is called after every event.
pub fn drive<H: NodeHost + ?Sized>(
    mut engine: Engine,
    host: &mut H,
    progress: &mut dyn FnMut(&Progress, Time),
) -> (RunRecord, bool) {
    let mut interrupted = false;
    match host.start(engine.nodes()) {
        Ok(()) => engine.start(host.now()),
        Err(e) => engine.abort(host.now(), e.node, e.message),
    }
    loop {
        while let Some(cmd) = engine.poll_output() {
            match cmd {
                Command::Deliver(node, line) => host.deliver(node, line),
                Command::Control(node, action) => {
                    if let Err(e) = host.control(node, action) {
                        engine.abort(host.now(), e.node, e.message);
                    }
                }
            }
        }
        if engine.is_finished() {
            break;
        }
        match host.next_event(engine.poll_timeout()) {
            HostEvent::Line {
                node,
                line,
                at,
                pre,
            } => match pre {
                Some(pre) => engine.handle_preparsed(at, node, &line, *pre),
                None => engine.handle_line(at, node, &line),
            },
            HostEvent::Timeout { now } => engine.handle_timeout(now),
            HostEvent::Exited { node, status, at } => engine.handle_node_exit(at, node, &status),
            HostEvent::Misbehaved { node, reason, at } => engine.abort(at, Some(node), reason),
            HostEvent::Stuck { now, reason } => engine.abort(now, None, reason),
            HostEvent::Interrupted { now } => {
                interrupted = true;
                engine.abort(
                    now,
                    None,
                    "Interrupted (Ctrl-C); every node process was killed".into(),
                );
            }
        }
        progress(&engine.progress(), host.now());
    }
    let exited = host.shutdown();
    let mut record = engine.into_record();
    record.node_cpu = host.node_cpu();
    if let Some((node, status)) = exited.first().filter(|_| record.crash.is_none()) {
        let name = record
            .opts
            .nodes
            .get(node.0)
            .map(|n| n.0.clone())
            .unwrap_or_default();
        record.crash = Some(Crash {
            node: record.opts.nodes.get(node.0).cloned(),
            reason: format!("Node {name} crashed with {status}"),
            stderr_tail: Vec::new(),
        });
    }
    let nodes = &record.opts.nodes;
    if let Some((crash, i)) = record.crash.as_mut().and_then(|c| {
        c.node
            .as_ref()
            .and_then(|n| nodes.iter().position(|m| m == n))
            .map(|i| (c, i))
    }) {
        crash.stderr_tail = host.stderr_tail(NodeIndex(i));
    }
    (record, interrupted)
}
