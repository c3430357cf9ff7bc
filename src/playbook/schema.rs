//! The JSON Schema of playbooks, generated from the Rust types (`harden schema`,
//! committed as `docs/playbook.schema.json` and drift-tested). A task is an object
//! with the common fields and exactly one module key.

use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use super::{Severity, VarValue, When};

/// The whole playbook schema.
#[must_use]
pub fn generate() -> Value {
    let mut g = SchemaGenerator::default();
    let severity = g.subschema_for::<Severity>();
    let when = g.subschema_for::<When>();
    let var = g.subschema_for::<VarValue>();
    let mut props = Map::new();
    props.insert(
        "name".into(),
        json!({"type": "string", "description": "What the task does."}),
    );
    props.insert(
        "id".into(),
        json!({"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "description": "Stable rule id, unique in the playbook."}),
    );
    props.insert("severity".into(), severity.to_value());
    props.insert(
        "tags".into(),
        json!({"type": "array", "items": {"type": "string"}}),
    );
    props.insert("when".into(), when.to_value());
    props.insert("rationale".into(), json!({"type": "string"}));
    props.insert(
        "references".into(),
        json!({"type": "object", "additionalProperties": {"type": "string"},
               "description": "benchmark items the rule covers, e.g. {cis: \"5.2.4\", anssi: \"R29\"}"}),
    );
    props.insert(
        "enforce".into(),
        json!({"type": "boolean", "default": true,
               "description": "false: audit only; drift is reported, never applied"}),
    );
    let mut one_of = Vec::new();
    for (name, schema) in crate::modules::param_schemas(&mut g) {
        props.insert(name.into(), schema.to_value());
        one_of.push(json!({"required": [name]}));
    }
    let task = json!({
        "type": "object",
        "properties": props,
        "required": ["name", "id"],
        "additionalProperties": false,
        "oneOf": one_of,
    });
    let mut defs: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    defs.insert("Task".into(), task);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "harden playbook",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "vars": {"type": "object", "additionalProperties": var.to_value()},
            "include": {"type": "array", "items": {"type": "string"}, "description": "Playbooks (paths relative to this one, or embedded names) whose tasks come first."},
            "tasks": {"type": "array", "items": {"$ref": "#/$defs/Task"}}
        },
        "additionalProperties": false,
        "$defs": defs,
    })
}
