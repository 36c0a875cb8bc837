//! The composed checker: runs every checker over a finished run and assembles the results
//! map under Maelstrom's key names, with `valid?` merged as false > unknown > true.
//!
//! A crashed run gets no analysis, as in Maelstrom; its map says why it crashed instead.

use serde_json::{Map, Value, json};

use crate::checker::{self, Validity};
use crate::engine::RunRecord;
use crate::history::History;
use crate::options::TestOptions;
use crate::workload;

/// Analyse a run. The result always has a top-level `valid?`.
pub fn analyze(record: &RunRecord) -> Value {
    if let Some(crash) = &record.crash {
        return json!({
            "valid?": "unknown",
            "crash": {
                "node": crash.node.as_ref().map(|n| n.0.clone()),
                "reason": crash.reason,
                "stderr-tail": crash.stderr_tail,
            },
            "net": checker::net::check(&record.journal, record.history.client_invocations()),
            "protocol": checker::protocol::check(&record.protocol, record.opts.strict),
        });
    }
    let net = checker::net::check(&record.journal, record.history.client_invocations());
    let protocol = checker::protocol::check(&record.protocol, record.opts.strict);
    let mut results = analyze_history(&record.opts, &record.history, net, protocol);
    if let (Some(scenario), Some(m)) = (&record.scenario, results.as_object_mut()) {
        // A scenario's own checks (its `converged` steps) count like any checker's.
        m.insert("scenario".into(), scenario.clone());
        m.remove("valid?");
        let valid = Validity::merge_all(m.values().map(Validity::of));
        m.insert("valid?".into(), valid.to_json());
    }
    if let (Some(cpu), Some(m)) = (record.node_cpu, results.as_object_mut()) {
        // A measurement, not a check: added after the verdict is composed.
        let ops = record.history.client_invocations().max(1) as f64;
        let ms = cpu.as_secs_f64() * 1000.0;
        m.insert(
            "node-cpu".into(),
            json!({"ms": ms.round(), "ms-per-1000-ops": (ms * 1000.0 / ops).round()}),
        );
    }
    results
}

/// Run the history checkers and compose them with already computed `net` and `protocol`
/// results (which need the journal and the node output, not just the history).
pub fn analyze_history(opts: &TestOptions, h: &History, net: Value, protocol: Value) -> Value {
    let mut m = Map::new();
    m.insert(
        "perf".into(),
        json!({"latency-graph": {"valid?": true}, "rate-graph": {"valid?": true}, "valid?": true}),
    );
    m.insert("exceptions".into(), checker::exceptions::check(h));
    m.insert("stats".into(), checker::stats::check(h));
    m.insert(
        "availability".into(),
        checker::availability::check(h, opts.availability),
    );
    m.insert("net".into(), net);
    m.insert("workload".into(), workload::make(opts).check(h));
    m.insert("protocol".into(), protocol);
    let valid = Validity::merge_all(m.values().map(Validity::of));
    m.insert("valid?".into(), valid.to_json());
    Value::Object(m)
}
