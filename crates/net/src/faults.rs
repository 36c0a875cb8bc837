//! A fault-injecting wrapper around everything a node sends: loss, duplication, delay (which
//! reorders), and per-peer blocking that can be switched while the node runs (partitions
//! without touching the network). For tests only (feature `testing`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
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

impl Faults {
    /// No loss, no duplication, no delay: only the per-peer blocking is in effect.
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        max_delay: Duration::ZERO,
        seed: 1,
    };
}

#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    rng: Mutex<u64>,
    /// Destinations every message to which is dropped.
    blocked: Mutex<BTreeSet<SocketAddr>>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> FaultState {
        FaultState {
            faults,
            rng: Mutex::new(faults.seed | 1),
            blocked: Mutex::new(BTreeSet::new()),
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

    /// Replaces the set of blocked destinations (empty: heal).
    pub(crate) fn set_blocked(&self, peers: BTreeSet<SocketAddr>) {
        *self.blocked.lock().unwrap_or_else(|p| p.into_inner()) = peers;
    }

    /// The blocked destinations.
    pub(crate) fn blocked(&self) -> BTreeSet<SocketAddr> {
        self.blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn is_blocked(&self, to: SocketAddr) -> bool {
        self.blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&to)
    }

    /// The copies to send to `to`, each with its delay: none (lost or blocked), one or two.
    pub(crate) fn decide(&self, to: SocketAddr) -> Vec<Duration> {
        if self.is_blocked(to) || self.next() < self.faults.loss {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_peers_get_nothing_until_healed() {
        let state = FaultState::new(Faults::NONE);
        let a: SocketAddr = ([127, 0, 0, 1], 7001).into();
        let b: SocketAddr = ([127, 0, 0, 1], 7002).into();
        assert_eq!(state.decide(a).len(), 1);
        state.set_blocked([a].into_iter().collect());
        assert!(state.decide(a).is_empty());
        assert_eq!(state.decide(b).len(), 1);
        assert_eq!(state.blocked().len(), 1);
        state.set_blocked(BTreeSet::new());
        assert_eq!(state.decide(a).len(), 1);
    }
}
