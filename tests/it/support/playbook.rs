//! Playbooks built from typed parts: a `Playbook` of `Task`s, each a rule id, a
//! module and its parameters as a JSON value, rendered to the YAML the binary
//! reads. Tests say what a rule is, never how YAML quotes it; a test whose promise
//! is about YAML itself (line numbers, quoting errors) keeps its text.

use std::fmt::Write as _;

use serde_json::Value;

/// One rule: `id`, the module it calls and the module's parameters.
#[derive(Clone, Debug)]
pub struct Task {
    fields: Vec<(String, Value)>,
    module: String,
    params: Value,
}

impl Task {
    /// A rule `id` calling `module` with `params` (named after its id until `name`).
    pub fn new(id: &str, module: &str, params: Value) -> Self {
        Self {
            fields: vec![("id".into(), Value::from(id))],
            module: module.into(),
            params,
        }
    }

    pub fn name(self, name: &str) -> Self {
        self.field("name", Value::from(name))
    }

    pub fn severity(self, severity: &str) -> Self {
        self.field("severity", Value::from(severity))
    }

    pub fn when(self, when: Value) -> Self {
        self.field("when", when)
    }

    /// Any other task field (`tags`, `enforce`, `references`, ...).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.fields.retain(|(k, _)| k != key);
        self.fields.push((key.into(), value));
        self
    }

    fn render(&self, out: &mut String) {
        let name = self
            .fields
            .iter()
            .find(|(k, _)| k == "name")
            .map_or_else(|| self.fields[0].1.clone(), |(_, v)| v.clone());
        let _ = writeln!(out, "  - name: {}", flow(&name));
        for (k, v) in self.fields.iter().filter(|(k, _)| k != "name") {
            let _ = writeln!(out, "    {k}: {}", flow(v));
        }
        let _ = writeln!(out, "    {}: {}", self.module, flow(&self.params));
    }
}

/// A playbook: an optional name, top-level fields and its tasks in order.
#[derive(Clone, Debug, Default)]
pub struct Playbook {
    fields: Vec<(String, Value)>,
    tasks: Vec<Task>,
}

impl Playbook {
    pub fn new(name: &str) -> Self {
        Self::default().field("name", Value::from(name))
    }

    /// A playbook with no name.
    pub fn unnamed() -> Self {
        Self::default()
    }

    /// Any other top-level field (`vars`, ...).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.fields.retain(|(k, _)| k != key);
        self.fields.push((key.into(), value));
        self
    }

    pub fn task(mut self, task: Task) -> Self {
        self.tasks.push(task);
        self
    }

    /// The YAML text the binary reads.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            let _ = writeln!(out, "{k}: {}", flow(v));
        }
        out.push_str("tasks:\n");
        for t in &self.tasks {
            t.render(&mut out);
        }
        out
    }
}

/// A JSON value as one line of YAML flow: JSON is YAML, and its string escapes
/// are YAML's double-quoted ones; keys are quoted so none reads as a number.
fn flow(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), flow(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
