//! The pn-counter and g-counter workloads: adds of small deltas (-5..4, or 0..4
//! for g-counter) and integer reads, one `final?` read per worker, every failure an `info`;
//! judged by the counter checker.

use super::write_read::{Shape, Values, WriteRead};
use crate::checker::counter;
use crate::options::WorkloadKind;
use crate::schema::FieldType;

static G_COUNTER: Shape = Shape {
    kind: WorkloadKind::GCounter,
    write: "add",
    write_field: "delta",
    write_ok: "add_ok",
    read_field: &[("value", FieldType::Int)],
    final_flagged: true,
    with_errors: false,
    check: counter::check,
};

static PN_COUNTER: Shape = Shape {
    kind: WorkloadKind::PnCounter,
    ..G_COUNTER
};

/// pn-counter when `negative`, else g-counter.
pub fn counter(negative: bool) -> WriteRead {
    let shape = if negative { &PN_COUNTER } else { &G_COUNTER };
    WriteRead::new(shape, Values::Deltas { negative }, None)
}
