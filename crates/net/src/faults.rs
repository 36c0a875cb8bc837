//! A fault-injecting wrapper around everything a node sends: loss, duplication, and delay
//! (which reorders). For tests only (feature `testing`).

use std::sync::Mutex;
use std::time::Duration;

/// What to do to outgoing messages, each decided independently per message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability that a message is dropped.
    pub loss: f64,
    /// Probability that a message is sent twice.
    pub duplicate: f64,
    /// Each copy is delayed by a uniform random time up to this (so messages reorder).
    pub max_delay: Duration,
    /// Seeds the decisions.
    pub seed: u64,
}

#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    rng: Mutex<u64>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> FaultState {
        FaultState {
            faults,
            rng: Mutex::new(faults.seed | 1),
        }
    }

    fn next(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        // xorshift64*: plenty for coin flips in tests.
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        let x = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The copies to send, each with its delay: none (lost), one or two.
    pub(crate) fn decide(&self) -> Vec<Duration> {
        if self.next() < self.faults.loss {
            return Vec::new();
        }
        let copies = if self.next() < self.faults.duplicate {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| self.faults.max_delay.mul_f64(self.next()))
            .collect()
    }
}
