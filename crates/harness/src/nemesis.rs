//! The partition nemesis schedule (§5.4): alternate start and stop, first start at t≈0, gaps
//! uniform in `[0, 2·interval)`, each start picking one of the four shapes uniformly.

use std::time::Duration;

use rand::RngExt;

use crate::partition::PartitionSpec;
use crate::time::Time;

/// What the nemesis does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NemesisAction {
    /// Cut the network with this shape.
    Start(PartitionSpec),
    /// Heal the network.
    Stop,
}

/// The nemesis generator.
#[derive(Debug, Clone)]
pub struct NemesisSchedule {
    interval: Duration,
    next_at: Time,
    next_is_start: bool,
}

impl NemesisSchedule {
    /// A schedule whose first op (a start) is due at `start`.
    pub fn new(start: Time, interval: Duration) -> NemesisSchedule {
        NemesisSchedule {
            interval,
            next_at: start,
            next_is_start: true,
        }
    }

    /// When the next op is due.
    pub fn next_at(&self) -> Time {
        self.next_at
    }

    /// Take the next op (call when `now >= next_at()`), scheduling the one after it.
    pub fn take<R: RngExt + ?Sized>(&mut self, rng: &mut R) -> NemesisAction {
        let action = if self.next_is_start {
            let k = rng.random_range(0..PartitionSpec::ALL.len());
            NemesisAction::Start(PartitionSpec::ALL[k])
        } else {
            NemesisAction::Stop
        };
        self.next_is_start = !self.next_is_start;
        let span = 2 * self.interval.as_nanos().max(1) as u64;
        self.next_at = self.next_at + Duration::from_nanos(rng.random_range(0..span));
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn alternates_and_spaces_ops() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut s = NemesisSchedule::new(Time::ZERO, Duration::from_secs(10));
        assert_eq!(s.next_at(), Time::ZERO);
        let mut last = Time::ZERO;
        let mut total = Duration::ZERO;
        for i in 0..2000 {
            let a = s.take(&mut rng);
            assert_eq!(matches!(a, NemesisAction::Start(_)), i % 2 == 0);
            let gap = s.next_at() - last;
            assert!(gap < Duration::from_secs(20));
            total += gap;
            last = s.next_at();
        }
        let mean = total.as_secs_f64() / 2000.0;
        assert!((9.0..11.0).contains(&mean), "mean gap {mean}");
    }
}
