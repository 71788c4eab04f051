//! JSON Logic, shared by synchronization conditions, rule conditions and endpoint conditions.
//! Evaluation is datalogic-rs (which passes the official jsonlogic.com test suite, run below);
//! truth follows jwadhams' json-logic: `0`, `""`, `[]`, `null` and `false` are false, `"0"` and
//! `{}` are true. A rule is compiled once and evaluated many times.

use std::sync::OnceLock;

use datalogic_rs::{Engine, Logic};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicError {
    #[error("invalid JSON Logic rule: {0}")]
    Compile(String),
    #[error("JSON Logic evaluation failed: {0}")]
    Evaluate(String),
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::new)
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    logic: Logic,
}

impl Rule {
    pub fn compile(rule: &Value) -> Result<Self, LogicError> {
        engine()
            .compile(rule)
            .map(|logic| Self { logic })
            .map_err(|error| LogicError::Compile(error.to_string()))
    }

    /// The rule's value for this data.
    pub fn evaluate(&self, data: &Value) -> Result<Value, LogicError> {
        let mut session = engine().session();
        session
            .eval_into::<Value, _>(&self.logic, data)
            .map_err(|error| LogicError::Evaluate(error.to_string()))
    }

    /// Whether the rule holds for this data (its value is truthy).
    pub fn matches(&self, data: &Value) -> Result<bool, LogicError> {
        self.evaluate(data).map(|value| is_truthy(&value))
    }
}

/// Compiles and evaluates a rule once.
pub fn apply(rule: &Value, data: &Value) -> Result<Value, LogicError> {
    Rule::compile(rule)?.evaluate(data)
}

/// jwadhams' truthiness: `0`, `""`, `[]`, `null`, `false` are false; everything else is true.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_with_dot_paths() {
        let rule = Rule::compile(&json!({"and": [
            {"==": [{"var": "status"}, "active"]},
            {">": [{"var": "user.age"}, 17]}
        ]}))
        .unwrap();
        assert!(
            rule.matches(&json!({"status": "active", "user": {"age": 18}}))
                .unwrap()
        );
        assert!(
            !rule
                .matches(&json!({"status": "active", "user": {"age": 12}}))
                .unwrap()
        );
        assert!(!rule.matches(&json!({})).unwrap());
    }

    #[test]
    fn truthiness_is_jwadhams() {
        for falsy in [json!(0), json!(""), json!([]), json!(null), json!(false)] {
            assert!(!is_truthy(&falsy), "{falsy}");
        }
        for truthy in [json!("0"), json!({}), json!([0]), json!(-1), json!("a")] {
            assert!(is_truthy(&truthy), "{truthy}");
        }
        assert_eq!(apply(&json!({"!!": ["0"]}), &json!({})), Ok(json!(true)));
        assert_eq!(apply(&json!({"!!": [[]]}), &json!({})), Ok(json!(false)));
    }

    #[test]
    fn bad_rules_are_errors() {
        assert!(
            Rule::compile(&json!({"nosuchop": [1]})).is_err()
                || apply(&json!({"nosuchop": [1]}), &json!({})).is_err()
        );
    }

    /// The official suite from jsonlogic.com/tests.json, vendored as a fixture.
    #[test]
    fn official_test_suite_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jsonlogic/tests.json"
        );
        let suite: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut failures = Vec::new();
        let mut count = 0;
        for case in suite.iter().filter_map(Value::as_array) {
            let [rule, data, expected] = case.as_slice() else {
                continue;
            };
            count += 1;
            let actual = apply(rule, data);
            let same = match &actual {
                Ok(value) => numbers_equal(value, expected),
                Err(_) => false,
            };
            if !same {
                failures.push(format!(
                    "{rule} with {data}: expected {expected}, got {actual:?}"
                ));
            }
        }
        assert!(count > 250, "the suite has {count} cases");
        assert!(
            failures.is_empty(),
            "{} of {count} failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// JSON equality where `1` and `1.0` are the same number, as in JavaScript.
    fn numbers_equal(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| numbers_equal(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(key, x)| y.get(key).is_some_and(|y| numbers_equal(x, y)))
            }
            _ => a == b,
        }
    }
}
