//! The composed checker (§6): runs every checker over a finished run and assembles the results
//! map under Maelstrom's key names, with `valid?` merged as false > unknown > true.
//!
//! A crashed run gets no analysis, as in Maelstrom; its map says why it crashed instead.

use serde_json::{Map, Value, json};

use crate::checker::{self, Validity};
use crate::engine::RunRecord;
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
    let h = &record.history;
    let mut m = Map::new();
    m.insert(
        "perf".into(),
        json!({"latency-graph": {"valid?": true}, "rate-graph": {"valid?": true}, "valid?": true}),
    );
    m.insert("exceptions".into(), checker::exceptions::check(h));
    m.insert("stats".into(), checker::stats::check(h));
    m.insert(
        "availability".into(),
        checker::availability::check(h, record.opts.availability),
    );
    m.insert(
        "net".into(),
        checker::net::check(&record.journal, h.client_invocations()),
    );
    m.insert("workload".into(), workload::make(&record.opts).check(h));
    m.insert(
        "protocol".into(),
        checker::protocol::check(&record.protocol, record.opts.strict),
    );
    let valid = Validity::merge_all(m.values().map(Validity::of));
    m.insert("valid?".into(), valid.to_json());
    Value::Object(m)
}
