//! The client-op schedule of the main phase: Jepsen's `stagger` under a `time-limit`.
//!
//! Gaps between successive invocations, counted across all workers, are uniform in
//! `[0, 2/rate)`. An op waits while every worker is busy; once it goes out, the next one is
//! due a fresh gap after it (Jepsen 0.3's stagger does not burst to catch up). Which op it is
//! comes from the workload; which worker runs it is the engine's rotating choice.

use std::time::Duration;

use rand::RngExt;

use crate::time::Time;

/// Staggered op times with a cutoff.
#[derive(Debug, Clone)]
pub struct Stagger {
    /// 2/rate in nanoseconds, or `None` for rate 0 (no client ops at all).
    span_nanos: Option<u64>,
    next_at: Time,
    cutoff: Time,
}

impl Stagger {
    /// A schedule starting at `start` (first op at once) that emits nothing at or after
    /// `start + limit`.
    pub fn new(start: Time, rate: f64, limit: Duration) -> Stagger {
        let span_nanos = (rate > 0.0 && rate.is_finite()).then(|| ((2e9 / rate) as u64).max(1));
        Stagger {
            span_nanos,
            next_at: start,
            cutoff: start + limit,
        }
    }

    /// When the next op may go out, or `None` if the schedule is exhausted.
    pub fn next_at(&self) -> Option<Time> {
        self.span_nanos
            .and(Some(self.next_at))
            .filter(|t| *t < self.cutoff)
    }

    /// The time after which no op is emitted.
    pub fn cutoff(&self) -> Time {
        self.cutoff
    }

    /// End the schedule at `now`: nothing more is emitted.
    pub fn end_at(&mut self, now: Time) {
        self.cutoff = self.cutoff.min(now);
    }

    /// After a pause in emitting (a scenario's `converged` check), the next op goes out no
    /// earlier than `now`.
    pub fn resume_at(&mut self, now: Time) {
        self.next_at = self.next_at.max(now);
    }

    /// Record that an op went out at `now` (≥ `next_at()`), drawing the next gap.
    pub fn emitted<R: RngExt + ?Sized>(&mut self, now: Time, rng: &mut R) {
        if let Some(span) = self.span_nanos {
            let base = now.max(self.next_at);
            self.next_at = base + Duration::from_nanos(rng.random_range(0..span));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn rate_and_cutoff() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut s = Stagger::new(Time::ZERO, 100.0, Duration::from_secs(10));
        let mut n = 0;
        while let Some(t) = s.next_at() {
            assert!(t < Time::from_millis(10_000));
            s.emitted(t, &mut rng);
            n += 1;
        }
        assert!((900..1100).contains(&n), "about 1000 ops, got {n}");
        let zero = Stagger::new(Time::ZERO, 0.0, Duration::from_secs(10));
        assert_eq!(zero.next_at(), None);
    }
}
