//! Maelstrom's availability checker: the fraction of client invocations that completed
//! ok, checked against `--availability` when it is set.

use serde_json::{Value, json};

use super::Validity;
use crate::history::{History, OpType};
use crate::options::Availability;

/// Run the availability checker.
pub fn check(history: &History, required: Option<Availability>) -> Value {
    let client = history.ops().iter().filter(|o| o.is_client());
    let invokes = client.clone().filter(|o| o.kind == OpType::Invoke).count();
    let oks = client.filter(|o| o.kind == OpType::Ok).count();
    if invokes == 0 {
        let valid = if required.is_some() {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        return json!({"valid?": valid.to_json(), "ok-fraction": null});
    }
    let fraction = oks as f64 / invokes as f64;
    let valid = match required {
        None => true,
        Some(Availability::Total) => fraction >= 1.0,
        Some(Availability::Fraction(x)) => fraction >= x,
    };
    json!({"valid?": valid, "ok-fraction": fraction})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use OpType::*;

    #[test]
    fn fractions() {
        let h = History::from_ops([
            op(0, Invoke, "read", Value::Null, 0),
            op(0, Ok, "read", json!([]), 1),
            op(0, Invoke, "read", Value::Null, 2),
            op(0, Fail, "read", Value::Null, 3),
        ]);
        assert_eq!(check(&h, None), json!({"valid?": true, "ok-fraction": 0.5}));
        assert_eq!(check(&h, Some(Availability::Total))["valid?"], json!(false));
        assert_eq!(
            check(&h, Some(Availability::Fraction(0.5)))["valid?"],
            json!(true)
        );
        assert_eq!(
            check(&h, Some(Availability::Fraction(0.6)))["valid?"],
            json!(false)
        );
        assert_eq!(check(&History::new(), None)["valid?"], json!(true));
    }
}
