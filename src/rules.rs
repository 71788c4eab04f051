//! Rules: ordered steps run on data at a moment (`timing` before or after the main work), each
//! when its JSON Logic `conditions` hold (spec §6.3, §6.4). Synchronizations run them as
//! `actions` on each object before it is written; endpoints will run them on requests.
//!
//! A rule set is compiled once (conditions and the mappings rules name) and applied per object.
//! Which rule types run depends on where: a type a place does not run yet is reported when the
//! set is built, and skipped when applied.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::logic;
use crate::mapping::CompiledMapping;

/// Where rules run: the types each place knows differ (spec §6.4 "where").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Synchronization,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    Before,
    After,
}

impl Timing {
    fn parse(text: Option<&str>) -> Self {
        match text {
            Some(t) if t.eq_ignore_ascii_case("after") => Self::After,
            _ => Self::Before,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// An `error` rule answered: the data is refused with this status and body.
    #[error("rule {rule:?} refused it: {message}")]
    Refused {
        rule: String,
        status: u16,
        message: String,
        body: Value,
    },
    #[error("rule {rule:?} failed: {problem}")]
    Failed { rule: String, problem: String },
    #[error("rule {rule:?}: {problem}")]
    Invalid { rule: String, problem: String },
}

/// What a rule does.
enum Step {
    Mapping(Arc<CompiledMapping>),
    Error {
        status: u16,
        name: String,
        message: String,
        include_logic_result: bool,
    },
    /// Runs, and leaves the data as it is (a `synchronization` rule inside a synchronization).
    Nothing,
    /// A type this place does not run yet: skipped.
    NotRun,
}

/// One compiled rule.
pub struct Rule {
    name: String,
    place: Place,
    order: i64,
    timing: Timing,
    conditions: Option<logic::Rule>,
    step: Step,
}

impl Rule {
    /// The mapping a `mapping` rule names (`configuration.mapping`), for the caller to compile.
    pub fn mapping_key(row: &Value) -> Option<String> {
        if row.get("type").and_then(Value::as_str) != Some("mapping") {
            return None;
        }
        match row.pointer("/configuration/mapping") {
            Some(Value::String(key)) if !key.is_empty() => Some(key.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        }
    }

    /// A stored rule for `place`; `mapping` is the compiled mapping of a `mapping` rule.
    pub fn from_row(
        row: &Value,
        place: Place,
        mapping: Option<Arc<CompiledMapping>>,
    ) -> Result<Self, RuleError> {
        let name = row
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| row.get("uuid").and_then(Value::as_str))
            .unwrap_or("rule")
            .to_owned();
        let invalid = |problem: String| RuleError::Invalid {
            rule: name.clone(),
            problem,
        };
        let conditions = match row.get("conditions") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) if map.is_empty() => None,
            Some(Value::Array(list)) if list.is_empty() => None,
            Some(rule) => {
                Some(logic::Rule::compile(rule).map_err(|e| invalid(format!("conditions: {e}")))?)
            }
        };
        let kind = row.get("type").and_then(Value::as_str).unwrap_or_default();
        let step = match (kind, place) {
            ("mapping", _) => Step::Mapping(
                mapping.ok_or_else(|| invalid("configuration.mapping names no mapping".into()))?,
            ),
            ("error", _) => {
                let config = row
                    .pointer("/configuration/error")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let text = |key: &str, default: &str| {
                    config
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or(default)
                        .to_owned()
                };
                let status = config
                    .get("code")
                    .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
                    .and_then(|c| u16::try_from(c).ok())
                    .filter(|c| (400..600).contains(c))
                    .unwrap_or(500);
                Step::Error {
                    status,
                    name: text("name", "Error"),
                    message: text("message", "An error rule refused the data"),
                    include_logic_result: config
                        .get("includeJsonLogicResult")
                        .and_then(crate::db::parse_bool)
                        .unwrap_or(false),
                }
            }
            ("synchronization", Place::Synchronization) => Step::Nothing,
            _ => Step::NotRun,
        };
        Ok(Self {
            place,
            order: row.get("order").and_then(Value::as_i64).unwrap_or(0),
            timing: Timing::parse(row.get("timing").and_then(Value::as_str)),
            name,
            conditions,
            step,
        })
    }

    /// Why this rule will not run here, if it will not.
    pub fn not_run(&self) -> Option<String> {
        match (&self.step, self.place, self.timing) {
            (Step::NotRun, _, _) => Some(format!(
                "rule {:?}: this type of rule is not run here yet; it is skipped",
                self.name
            )),
            // A synchronization runs its actions before each write only.
            (_, Place::Synchronization, Timing::After) => Some(format!(
                "rule {:?}: timing \"after\" is not run by synchronizations yet (use \"before\"); it is skipped",
                self.name
            )),
            _ => None,
        }
    }
}

/// Rules in the order they run (`order`, then as listed).
#[derive(Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    pub fn new(mut rules: Vec<Rule>) -> Self {
        rules.sort_by_key(|rule| rule.order);
        Self { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules of `timing` on `data`, in order; each sees what the one before made.
    pub fn apply(&self, timing: Timing, mut data: Value) -> Result<Value, RuleError> {
        for rule in self.rules.iter().filter(|rule| rule.timing == timing) {
            let failed = |problem: String| RuleError::Failed {
                rule: rule.name.clone(),
                problem,
            };
            let logic_result = match &rule.conditions {
                Some(conditions) => {
                    let result = conditions
                        .evaluate(&data)
                        .map_err(|e| failed(e.to_string()))?;
                    if !logic::is_truthy(&result) {
                        continue;
                    }
                    Some(result)
                }
                None => None,
            };
            data = match &rule.step {
                Step::Mapping(mapping) => {
                    mapping.apply(&data).map_err(|e| failed(e.to_string()))?
                }
                Step::Error {
                    status,
                    name,
                    message,
                    include_logic_result,
                } => {
                    let mut body = json!({"error": name, "message": message});
                    if let (true, Some(result)) = (include_logic_result, logic_result) {
                        body["errors"] = result;
                    }
                    return Err(RuleError::Refused {
                        rule: rule.name.clone(),
                        status: *status,
                        message: message.clone(),
                        body,
                    });
                }
                Step::Nothing | Step::NotRun => data,
            };
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapper;

    fn rule(row: Value) -> Rule {
        let mapping = Rule::mapping_key(&row).map(|_| {
            Mapper::default()
                .compile_json(
                    &json!({"mapping": {"title": "{{ title|upper }}"}, "passThrough": true}),
                )
                .expect("a mapping")
        });
        Rule::from_row(&row, Place::Synchronization, mapping).expect("a rule")
    }

    #[test]
    fn rules_run_in_order_at_their_timing_when_their_conditions_hold() {
        let set = RuleSet::new(vec![
            rule(json!({"name": "refuse drafts", "type": "error", "order": 2,
                        "conditions": {"==": [{"var": "status"}, "draft"]},
                        "configuration": {"error": {"code": 422, "name": "Draft", "message": "Drafts stay home", "includeJsonLogicResult": true}}})),
            rule(
                json!({"name": "shout", "type": "mapping", "order": 1, "configuration": {"mapping": 7}}),
            ),
            rule(
                json!({"name": "later", "type": "mapping", "timing": "after", "configuration": {"mapping": "x"}}),
            ),
            rule(json!({"name": "files", "type": "fetch_file", "order": 3})),
        ]);
        let mapped = set
            .apply(Timing::Before, json!({"title": "a", "status": "final"}))
            .expect("passes");
        assert_eq!(mapped, json!({"title": "A", "status": "final"}));

        match set.apply(Timing::Before, json!({"title": "b", "status": "draft"})) {
            Err(RuleError::Refused {
                rule, status, body, ..
            }) => {
                assert_eq!((rule.as_str(), status), ("refuse drafts", 422));
                assert_eq!(
                    body,
                    json!({"error": "Draft", "message": "Drafts stay home", "errors": true})
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let after = set
            .apply(Timing::After, json!({"title": "c"}))
            .expect("runs");
        assert_eq!(after["title"], "C", "only the after rule ran");
    }

    #[test]
    fn types_a_place_does_not_run_are_named_and_bad_rules_refused() {
        assert!(
            rule(json!({"name": "files", "type": "fetch_file"}))
                .not_run()
                .is_some()
        );
        assert!(
            rule(json!({"name": "sync", "type": "synchronization"}))
                .not_run()
                .is_none()
        );
        let later = rule(
            json!({"name": "later", "type": "mapping", "timing": "after", "configuration": {"mapping": 1}}),
        );
        assert!(
            later
                .not_run()
                .is_some_and(|why| why.contains("timing \"after\""))
        );
        let unknown = RuleSet::new(vec![rule(
            json!({"name": "x", "type": "error", "conditions": {"nope": []}}),
        )]);
        assert!(
            matches!(
                unknown.apply(Timing::Before, json!({})),
                Err(RuleError::Failed { .. })
            ),
            "an unknown operator fails the data, it does not pass it"
        );
        let unmapped = Rule::from_row(
            &json!({"name": "m", "type": "mapping"}),
            Place::Synchronization,
            None,
        );
        assert!(matches!(unmapped, Err(RuleError::Invalid { .. })));
    }
}
