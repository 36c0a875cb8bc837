//! The counters: sums over replicas that redelivery cannot inflate, negative values, and
//! overflow refused without changing the state.

use gossip_crdt::{CrdtError, GCounter, Lattice, PnCounter};

use super::Result;

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

#[test]
fn g_counter_sums_replicas_and_redelivery_does_not_double_count() -> Result {
    let mut a = GCounter::new();
    let mut b = GCounter::new();
    let d1 = a.increment("a", 5)?;
    let d2 = a.increment("a", 1)?;
    b.increment("b", 3)?;
    for delta in [&d1, &d2, &d2, &d1] {
        b.join(delta);
    }
    assert_eq!(b.value(), 9);
    assert_eq!(b.contribution(&"a"), 6);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![(&"a", 6), (&"b", 3)]);
    Ok(())
}

#[test]
fn g_counter_zero_increment_is_bottom() -> Result {
    let mut c = GCounter::new();
    c.increment("a", 2)?;
    let before = c.clone();
    assert!(c.increment("a", 0)?.is_bottom());
    assert!(c.increment("b", 0)?.is_bottom());
    assert_eq!(c, before);
    Ok(())
}

#[test]
fn g_counter_overflow_is_an_error_and_leaves_the_state_unchanged() -> Result {
    let mut c = GCounter::new();
    c.increment("a", u64::MAX - 1)?;
    let before = c.clone();
    let err = c.increment("a", 2).expect_err("would pass u64::MAX");
    assert_eq!(
        err,
        CrdtError::Overflow {
            operation: "GCounter::increment"
        }
    );
    assert_eq!(
        err.to_string(),
        "GCounter::increment: the entry would pass u64::MAX"
    );
    assert_eq!(c, before);
    assert!(c.increment_delta("a", 2).is_err());
    c.increment("a", 1)?; // exactly u64::MAX is fine
    assert_eq!(c.contribution(&"a"), u64::MAX);
    Ok(())
}

#[test]
fn g_counter_value_does_not_overflow_across_replicas() -> Result {
    let mut c = GCounter::new();
    c.increment("a", u64::MAX)?;
    c.increment("b", u64::MAX)?;
    assert_eq!(c.value(), 2 * u128::from(u64::MAX));
    Ok(())
}

#[test]
fn pn_counter_goes_negative() -> Result {
    let mut a = PnCounter::new();
    let mut b = PnCounter::new();
    let up = a.increment("a", 3)?;
    let down = b.decrement("b", 10)?;
    a.join(&down);
    b.join(&up);
    assert_eq!(a.value(), -7);
    assert_eq!(a, b);
    assert_eq!(a.increments().value(), 3);
    assert_eq!(a.decrements().value(), 10);
    Ok(())
}

#[test]
fn pn_counter_zero_delta_is_bottom() -> Result {
    let mut c = PnCounter::new();
    c.increment("a", 4)?;
    let before = c.clone();
    assert!(c.increment("a", 0)?.is_bottom());
    assert!(c.decrement("a", 0)?.is_bottom());
    assert!(c.increment_delta("b", 0)?.is_bottom());
    assert!(c.decrement_delta("b", 0)?.is_bottom());
    assert_eq!(c, before);
    Ok(())
}

#[test]
fn pn_counter_extremes_and_overflow() -> Result {
    let mut c = PnCounter::new();
    c.decrement("a", 1 << 63)?;
    assert_eq!(c.value(), i128::from(i64::MIN));
    c.increment("a", u64::MAX / 2)?;
    c.increment("a", u64::MAX / 2)?; // increments: 2^64 - 2, beyond any i64
    assert_eq!(c.value(), (1i128 << 63) - 2);
    c.increment("a", 1)?; // increments entry is now u64::MAX
    let before = c.clone();
    assert_eq!(
        c.increment("a", 1),
        Err(CrdtError::Overflow {
            operation: "PnCounter::increment"
        })
    );
    assert_eq!(c, before);
    // Decrements overflow independently of increments.
    let mut d = PnCounter::new();
    d.decrement("a", 1 << 63)?;
    d.decrement("a", (1 << 63) - 1)?; // decrements: 2^63 + 2^63 - 1 = u64::MAX
    assert_eq!(
        d.decrement("a", 1),
        Err(CrdtError::Overflow {
            operation: "PnCounter::decrement"
        })
    );
    assert!(d.increment("a", 1).is_ok());
    Ok(())
}
