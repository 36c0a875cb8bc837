//! `Time`: the engine's notion of "now", always handed in by the caller.
//!
//! The engine never reads a clock. Callers pass real time (a tokio shell), or virtual time (a
//! simulator that jumps from deadline to deadline); both are a duration since an origin the
//! caller picks.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in time: the duration since an arbitrary origin chosen by the caller.
///
/// ```
/// use gossip_transport::Time;
/// use std::time::Duration;
///
/// let start = Time::ZERO;
/// let later = start + Duration::from_millis(250);
/// assert_eq!(later - start, Duration::from_millis(250));
/// assert_eq!(start - later, Duration::ZERO); // saturates: time never runs backwards
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(Duration);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The time `since` after the origin.
    pub const fn from_duration(since: Duration) -> Time {
        Time(since)
    }

    /// The time `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Time {
        Time(Duration::from_millis(ms))
    }

    /// The duration since the origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// Milliseconds since the origin (truncated).
    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 = self.0.saturating_add(rhs);
    }
}

impl Sub for Time {
    type Output = Duration;

    /// The time elapsed from `rhs` to `self`, or zero if `rhs` is later.
    fn sub(self, rhs: Time) -> Duration {
        self.0.saturating_sub(rhs.0)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}
