//! Weighing: how many bytes a delta or a packet takes in the shell's encoding.
//!
//! The engine never encodes anything itself: it batches deltas up to a byte budget and counts
//! the bytes it sends, and for both it asks a [`Weigh`]. The JSON weigher ([`JsonWeigh`], the
//! default) matches the Maelstrom node's encoding; a shell with a binary codec passes its own
//! to [`Replicator::with_weigh`](crate::Replicator::with_weigh), so that budgets and
//! statistics are in the bytes that really travel.

use std::fmt::Debug;

use serde::Serialize;

use crate::Packet;

/// Sizes in a codec's bytes.
pub trait Weigh<L>: Debug + Send {
    /// The encoded size of one delta inside a run.
    fn delta(&self, delta: &L) -> usize;
    /// The encoded size of a whole packet.
    fn packet(&self, packet: &Packet<L>) -> usize;
}

/// Sizes of compact JSON (`serde_json`), measured without building the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonWeigh;

impl<L: Serialize> Weigh<L> for JsonWeigh {
    fn delta(&self, delta: &L) -> usize {
        json_len(delta)
    }

    fn packet(&self, packet: &Packet<L>) -> usize {
        json_len(packet)
    }
}

/// The length of `value`'s JSON encoding, without building it.
fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising our own types into a sink cannot fail; if a user type's impl errors, the
    // size estimate is merely low.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use gossip_crdt::GSet;

    use super::*;

    #[test]
    fn json_sizes_are_the_lengths_of_the_text() {
        let delta: GSet<u64> = [1, 22, 333].into_iter().collect();
        let packet = Packet {
            seq: Some((4, 4)),
            ..Packet::<GSet<u64>>::new(7)
        };
        let w = JsonWeigh;
        assert_eq!(
            Weigh::<GSet<u64>>::delta(&w, &delta),
            serde_json::to_string(&delta).map_or(0, |t| t.len())
        );
        assert_eq!(
            w.packet(&packet),
            serde_json::to_string(&packet).map_or(0, |t| t.len())
        );
    }
}
