//! Inter-server latency draws.
//!
//! Latency applies to every message except those to or from a client. Maelstrom's uniform and
//! exponential draws hang or divide by zero at a mean of 0; here they simply give 0.

use std::time::Duration;

use rand::RngExt;

use crate::options::LatencyDist;

/// A latency distribution with its mean.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    dist: LatencyDist,
    mean_ms: u64,
}

impl Latency {
    /// A distribution with mean `mean_ms` milliseconds.
    pub fn new(dist: LatencyDist, mean_ms: u64) -> Latency {
        Latency { dist, mean_ms }
    }

    /// Draw one latency, in whole milliseconds as Maelstrom does.
    pub fn draw<R: RngExt + ?Sized>(&self, rng: &mut R) -> Duration {
        let ms = match (self.dist, self.mean_ms) {
            (_, 0) => 0,
            (LatencyDist::Constant, m) => m,
            (LatencyDist::Uniform, m) => rng.random_range(0..2 * m),
            (LatencyDist::Exponential, m) => {
                let u: f64 = rng.random();
                // 1 - u is in (0, 1], so the log is finite.
                (-(1.0 - u).ln() * m as f64) as u64
            }
        };
        Duration::from_millis(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn draws_have_the_right_mean_and_range() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let c = Latency::new(LatencyDist::Constant, 100);
        assert_eq!(c.draw(&mut rng), Duration::from_millis(100));
        let u = Latency::new(LatencyDist::Uniform, 100);
        let e = Latency::new(LatencyDist::Exponential, 100);
        let n = 20_000u64;
        let (mut su, mut se) = (0u128, 0u128);
        for _ in 0..n {
            let d = u.draw(&mut rng).as_millis();
            assert!(d < 200);
            su += d;
            se += e.draw(&mut rng).as_millis();
        }
        let (mu, me) = (su as f64 / n as f64, se as f64 / n as f64);
        assert!((95.0..105.0).contains(&mu), "uniform mean {mu}");
        // Truncation to whole ms lowers the exponential mean by about half a millisecond.
        assert!((94.0..106.0).contains(&me), "exponential mean {me}");
        assert_eq!(
            Latency::new(LatencyDist::Uniform, 0).draw(&mut rng),
            Duration::ZERO
        );
    }
}
