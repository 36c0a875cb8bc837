//! The one random number generator type of a run.
//!
//! Every random choice (latencies, op mix, stagger gaps, partitions, service staleness) draws
//! from generators seeded from the run's `--seed`, so a simulated run replays exactly.

use rand::SeedableRng;

/// The generator used everywhere in the engine.
pub type Rng = rand::rngs::Xoshiro256PlusPlus;

/// A generator for one purpose, derived from the run's seed and a stream number so that
/// adding draws in one place does not shift every other sequence.
pub fn stream(seed: u64, stream: u64) -> Rng {
    Rng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
