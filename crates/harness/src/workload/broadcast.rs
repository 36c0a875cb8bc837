//! The broadcast workload: topology at setup, a 50/50 mix of unique-integer broadcasts
//! and reads, one `final?` read per worker, `with-errors` clients; judged by set-full with
//! `broadcast` as the add.

use serde_json::json;

use super::body;
use super::write_read::{Shape, Values, WriteRead};
use crate::checker::set_full;
use crate::options::{TestOptions, WorkloadKind};
use crate::schema::FieldType;
use crate::topology;

static SHAPE: Shape = Shape {
    kind: WorkloadKind::Broadcast,
    write: "broadcast",
    write_field: "message",
    write_ok: "broadcast_ok",
    read_field: &[("messages", FieldType::Array)],
    final_flagged: true,
    with_errors: true,
    check: |history| set_full::check(history, "broadcast"),
};

/// The broadcast workload with the run's topology (every node gets the whole map).
pub fn broadcast(opts: &TestOptions) -> WriteRead {
    let map = json!(topology::build(opts.topology, &opts.nodes));
    let topology = body("topology", &[("topology", map)]);
    WriteRead::new(&SHAPE, Values::Unique { next: 0 }, Some(topology))
}
