//! Durations as people type them: `250ms`, `1.5s`, `2s`. The node's settings and the harness's
//! scenario scripts read them with this one parser, so both accept exactly the same words.

use std::fmt;
use std::time::Duration;

/// Why a word is not a duration. Each variant carries the word as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// No unit: a bare number could mean seconds or milliseconds.
    NoUnit(String),
    /// What precedes the unit is not a decimal number.
    NotANumber(String),
    /// A negative number, or a non-finite one (`inf`, `nan`).
    OutOfRange(String),
    /// More seconds than a [`Duration`] holds.
    TooLong(String),
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::NoUnit(s) => {
                write!(f, "`{s}` has no unit (write 200ms or 1.5s)")
            }
            DurationError::NotANumber(s) => {
                write!(f, "`{s}` is not a duration like 200ms or 1.5s")
            }
            DurationError::OutOfRange(s) => {
                write!(f, "`{s}` is not a finite duration of zero or more")
            }
            DurationError::TooLong(s) => write!(f, "`{s}` is too long a duration"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a decimal number followed by `ms` or `s`: `250ms`, `1.5s`, `0s`, `2e3ms`.
pub fn parse_duration(word: &str) -> Result<Duration, DurationError> {
    let (number, per_second) = if let Some(n) = word.strip_suffix("ms") {
        (n, 1000.0)
    } else if let Some(n) = word.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(if word.parse::<f64>().is_ok() {
            DurationError::NoUnit(word.to_owned())
        } else {
            DurationError::NotANumber(word.to_owned())
        });
    };
    // `f64`'s parser also takes `inf` and `nan`; they are caught as out of range below.
    let n: f64 = number
        .parse()
        .map_err(|_| DurationError::NotANumber(word.to_owned()))?;
    if !n.is_finite() || n < 0.0 {
        return Err(DurationError::OutOfRange(word.to_owned()));
    }
    // Dividing (rather than multiplying by 0.001) keeps `300ms` exactly 0.3 s.
    Duration::try_from_secs_f64(n / per_second).map_err(|_| DurationError::TooLong(word.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let ok = |s: &str| parse_duration(s).expect(s);
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("0.1s"), Duration::from_millis(100));
        assert_eq!(ok("2s"), Duration::from_secs(2));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("0.5ms"), Duration::from_micros(500));
        assert_eq!(ok("2e3ms"), Duration::from_secs(2));
    }

    #[test]
    fn garbage_is_refused_with_its_reason() {
        let err = |s: &str| parse_duration(s).expect_err(s);
        assert_eq!(err("2"), DurationError::NoUnit("2".into()));
        assert_eq!(err(""), DurationError::NotANumber(String::new()));
        assert_eq!(err("ms"), DurationError::NotANumber("ms".into()));
        assert_eq!(err("s"), DurationError::NotANumber("s".into()));
        assert_eq!(err("soon"), DurationError::NotANumber("soon".into()));
        assert_eq!(err("2 s"), DurationError::NotANumber("2 s".into()));
        assert_eq!(err("2m"), DurationError::NotANumber("2m".into()));
        assert_eq!(err("1h"), DurationError::NotANumber("1h".into()));
        assert_eq!(err("-1s"), DurationError::OutOfRange("-1s".into()));
        assert_eq!(err("infs"), DurationError::OutOfRange("infs".into()));
        assert_eq!(err("NaNms"), DurationError::OutOfRange("NaNms".into()));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let err = |s: &str| parse_duration(s).expect_err(s);
        assert_eq!(err("1e30s"), DurationError::TooLong("1e30s".into()));
        assert_eq!(err("1e30ms"), DurationError::TooLong("1e30ms".into()));
        assert_eq!(err("1e300s"), DurationError::TooLong("1e300s".into()));
        // The largest whole second count a `Duration` holds, give or take f64 rounding.
        assert!(parse_duration("1e18s").is_ok());
    }

    #[test]
    fn messages_name_the_word() {
        let e = parse_duration("1e30s").expect_err("too long");
        assert!(e.to_string().contains("1e30s"), "{e}");
        let e = parse_duration("20").expect_err("no unit");
        assert!(e.to_string().contains("no unit"), "{e}");
    }
}
