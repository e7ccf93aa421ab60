//! Which action names a Sigma rule can possibly match, worked out from its detection and
//! condition, so that an event is only evaluated against the rules that name its action.
//!
//! Almost every cloud rule selects on the action field (`eventName`, `eventType`, `action`);
//! most events carry an action no rule names. Looking the action up in a map is far cheaper than
//! probing every indexed field of every event. A rule whose matches cannot be bounded this way
//! (a negated selection, `contains`, a keyword search) has no gate and is always evaluated.

use std::collections::HashMap;

use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaRule,
    SigmaValue, StringPart,
};

/// The values (lower-cased: Sigma compares case-insensitively) a rule's action field must have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Gate {
    /// Exact values.
    pub exact: Vec<String>,
    /// Prefixes (`startswith`, or a value with a wildcard after its first characters).
    pub prefixes: Vec<String>,
}

impl Gate {
    fn union(mut self, other: Gate) -> Gate {
        self.exact.extend(other.exact);
        self.prefixes.extend(other.prefixes);
        self
    }
}

/// A gate for `rule`: on `preferred` (the source's action field) when it has one there, else on
/// the first other field that bounds it.
pub(crate) fn best_gate(rule: &SigmaRule, preferred: &str) -> Option<(String, Gate)> {
    if let Some(gate) = gate_of(rule, preferred) {
        return Some((preferred.to_string(), gate));
    }
    let mut fields: Vec<&str> = rule
        .detection
        .named
        .values()
        .flat_map(detection_fields)
        .collect();
    fields.sort_unstable();
    fields.dedup();
    fields
        .into_iter()
        .find_map(|field| Some((field.to_string(), gate_of(rule, field)?)))
}

fn detection_fields(detection: &Detection) -> Vec<&str> {
    match detection {
        Detection::AllOf(items) => items
            .iter()
            .filter_map(|item| item.field.name.as_deref())
            .collect(),
        Detection::AnyOf(list) => list.iter().flat_map(detection_fields).collect(),
        _ => Vec::new(),
    }
}

/// The gate of `rule` on `field`, or `None` when some match of the rule need not have one of a
/// known set of values there.
pub(crate) fn gate_of(rule: &SigmaRule, field: &str) -> Option<Gate> {
    let detections = &rule.detection.named;
    let mut gate = Gate::default();
    if rule.detection.conditions.is_empty() {
        return None;
    }
    // Several conditions are alternatives: each needs a gate.
    for condition in &rule.detection.conditions {
        gate = gate.union(condition_gate(condition, detections, field)?);
    }
    Some(gate)
}

fn condition_gate(
    condition: &ConditionExpr,
    detections: &HashMap<String, Detection>,
    field: &str,
) -> Option<Gate> {
    match condition {
        ConditionExpr::Identifier(name) => detection_gate(detections.get(name)?, field),
        // Any one conjunct's gate bounds the whole conjunction.
        ConditionExpr::And(parts) => parts
            .iter()
            .find_map(|p| condition_gate(p, detections, field)),
        ConditionExpr::Or(parts) => parts.iter().try_fold(Gate::default(), |acc, p| {
            Some(acc.union(condition_gate(p, detections, field)?))
        }),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut names: Vec<&String> = detections
                .keys()
                .filter(|name| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, name),
                })
                .collect();
            names.sort();
            if names.is_empty() {
                return None;
            }
            let gates = names
                .iter()
                .map(|name| detection_gate(&detections[*name], field));
            match quantifier {
                Quantifier::All => gates.flatten().next(),
                Quantifier::Any | Quantifier::Count(1..) => gates
                    .into_iter()
                    .try_fold(Gate::default(), |acc, g| Some(acc.union(g?))),
                Quantifier::Count(0) => None,
            }
        }
    }
}

fn detection_gate(detection: &Detection, field: &str) -> Option<Gate> {
    match detection {
        Detection::AllOf(items) => items
            .iter()
            .filter(|item| item.field.name.as_deref() == Some(field))
            .find_map(item_gate),
        Detection::AnyOf(list) => list.iter().try_fold(Gate::default(), |acc, d| {
            Some(acc.union(detection_gate(d, field)?))
        }),
        _ => None,
    }
}

fn item_gate(item: &DetectionItem) -> Option<Gate> {
    let mut prefix_only = false;
    for modifier in &item.field.modifiers {
        match modifier {
            Modifier::StartsWith => prefix_only = true,
            // Case-sensitive matching is narrower than the case-insensitive gate: still sound.
            Modifier::Cased => {}
            _ => return None,
        }
    }
    let mut gate = Gate::default();
    for value in &item.values {
        let SigmaValue::String(s) = value else {
            return None;
        };
        let mut head = String::new();
        let mut wildcard = false;
        for part in &s.parts {
            match part {
                StringPart::Plain(text) => head.push_str(text),
                StringPart::Special(_) => {
                    wildcard = true;
                    break;
                }
            }
        }
        // Non-ASCII gate values would need Unicode case folding to be sound: no gate.
        if head.is_empty() || !head.is_ascii() {
            return None;
        }
        let head = head.to_ascii_lowercase();
        if prefix_only || wildcard {
            gate.prefixes.push(head);
        } else {
            gate.exact.push(head);
        }
    }
    (!gate.exact.is_empty() || !gate.prefixes.is_empty()).then_some(gate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(yaml: &str) -> Option<Gate> {
        let text = format!(
            "title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{yaml}\n"
        );
        let collection = rsigma_parser::parse_sigma_yaml(&text).expect("valid rule");
        gate_of(&collection.rules[0], "eventName")
    }

    #[test]
    fn selections_on_the_action_bound_the_rule() {
        let g = gate(
            "  sel:\n    eventSource: iam.amazonaws.com\n    eventName: [CreateUser, DeleteUser]\n  \
             filter:\n    errorCode|exists: true\n  condition: sel and not filter",
        )
        .expect("gated");
        assert_eq!(g.exact, vec!["createuser", "deleteuser"]);
        let g = gate(
            "  a:\n    eventName|startswith: AddPermission\n  b:\n    eventName: 'UpdateFunctionCode*'\n  \
             condition: 1 of a or b",
        );
        assert_eq!(
            g.map(|g| g.prefixes),
            Some(vec![
                "addpermission".to_string(),
                "updatefunctioncode".to_string()
            ])
        );
    }

    #[test]
    fn rules_that_can_match_any_action_are_not_gated() {
        for detection in [
            "  sel:\n    userIdentity.type: Root\n  condition: sel",
            "  sel:\n    eventName|contains: Create\n  condition: sel",
            "  sel:\n    eventName: CreateUser\n  other:\n    userIdentity.type: Root\n  condition: sel or other",
            "  sel:\n    eventName: CreateUser\n  condition: not sel",
            "  sel:\n    eventName: '*User'\n  condition: sel",
            "  sel:\n    - eventName: CreateUser\n    - userIdentity.type: Root\n  condition: sel",
        ] {
            assert_eq!(gate(detection), None, "{detection}");
        }
        let all = gate(
            "  sel_a:\n    eventName: CreateUser\n  sel_b:\n    userIdentity.type: Root\n  \
             condition: all of sel_*",
        );
        assert_eq!(all.map(|g| g.exact), Some(vec!["createuser".to_string()]));
    }

    #[test]
    fn a_rule_without_an_action_is_gated_on_another_exact_field() {
        let text = "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  \
            usertype:\n    userIdentity.type: Root\n  service:\n    eventType: AwsServiceEvent\n  \
            condition: usertype and not service\n";
        let rule = &rsigma_parser::parse_sigma_yaml(text).expect("valid").rules[0];
        let (field, gate) = best_gate(rule, "eventName").expect("gated");
        assert_eq!(field, "userIdentity.type");
        assert_eq!(gate.exact, vec!["root"]);
        let regex = "title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  \
            sel:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: sel\n";
        let rule = &rsigma_parser::parse_sigma_yaml(regex).expect("valid").rules[0];
        assert_eq!(best_gate(rule, "eventName"), None);
    }
}
