//! The g-set workload: adds of unique integers and reads of `value`, one final read per
//! worker (not flagged `final?`), every failure an `info`; judged by set-full.

use super::write_read::{Shape, Values, WriteRead};
use crate::checker::set_full;
use crate::options::WorkloadKind;
use crate::schema::FieldType;

static SHAPE: Shape = Shape {
    kind: WorkloadKind::GSet,
    write: "add",
    write_field: "element",
    write_ok: "add_ok",
    read_field: &[("value", FieldType::Array)],
    final_flagged: false,
    with_errors: false,
    check: |history| set_full::check(history, "add"),
};

/// The g-set workload.
pub fn g_set() -> WriteRead {
    WriteRead::new(&SHAPE, Values::Unique { next: 0 }, None)
}
