//! Line breaks in values that land on one line of a config file. The `sshd`,
//! `sysctl`, `env_file`, `fail2ban` and `nginx` modules write each key and value
//! they are given into a line of their file; a newline or carriage return in one
//! would split it into extra lines (extra directives, extra keys, a new section)
//! that no rule asked for. Such a value is refused when the playbook is read,
//! naming the file, line and column of the value. This module reads the YAML again
//! with positions (the typed parse keeps none below the task's keys); it knows
//! nothing else of the modules.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::PlaybookError;

/// The modules whose every key and value is a single line.
pub const SINGLE_LINE_MODULES: [&str; 5] = ["env_file", "fail2ban", "nginx", "sshd", "sysctl"];

/// A YAML node with the position of every node below it.
#[derive(Debug)]
enum Node {
    Text(String),
    Other,
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Text(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Text(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Spanned<Node>>()? {
            out.push(n);
        }
        Ok(Node::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Node>>()? {
            let v = map.next_value::<Spanned<Node>>()?;
            out.push((k, v));
        }
        Ok(Node::Map(out))
    }
}

fn entries<'a>(n: &'a Node, key: &str) -> Option<&'a Spanned<Node>> {
    let Node::Map(m) = n else { return None };
    m.iter()
        .find(|(k, _)| matches!(&k.value, Node::Text(t) if t == key))
        .map(|(_, v)| v)
}

/// The first key or value under `n` holding a line break, with the keys leading
/// to it (`jails.sshd.maxretry`; never the value itself, which may be secret).
fn first_break<'a>(n: &'a Spanned<Node>, at: &str) -> Option<(&'a Spanned<Node>, String)> {
    let has_break = |t: &str| t.contains(['\n', '\r']);
    match &n.value {
        Node::Text(t) if has_break(t) => Some((n, at.to_string())),
        Node::Text(_) | Node::Other => None,
        Node::Seq(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_break(item, &format!("{at}[{i}]"))),
        Node::Map(m) => m.iter().find_map(|(k, v)| {
            let name = match &k.value {
                Node::Text(t) => t.escape_debug().to_string(),
                _ => "?".into(),
            };
            let here = if at.is_empty() {
                name
            } else {
                format!("{at}.{name}")
            };
            match &k.value {
                Node::Text(t) if has_break(t) => Some((k, format!("the key {here}"))),
                _ => first_break(v, &here),
            }
        }),
    }
}

/// Checks the (substituted) text of playbook `file`.
///
/// # Errors
/// [`PlaybookError::Syntax`] at the first key or value with a line break under
/// one of [`SINGLE_LINE_MODULES`]. YAML errors are left to the typed parse, which
/// has already succeeded when this runs.
pub fn check(text: &str, file: &str) -> Result<(), PlaybookError> {
    let Ok(doc) = serde_saphyr::from_str::<Spanned<Node>>(text) else {
        return Ok(());
    };
    let Some(tasks) = entries(&doc.value, "tasks") else {
        return Ok(());
    };
    let Node::Seq(tasks) = &tasks.value else {
        return Ok(());
    };
    for task in tasks {
        for module in SINGLE_LINE_MODULES {
            if let Some(params) = entries(&task.value, module)
                && let Some((bad, path)) = first_break(params, "")
            {
                return Err(PlaybookError::Syntax {
                    file: file.to_string(),
                    line: bad.referenced.line(),
                    column: bad.referenced.column(),
                    message: format!(
                        "a line break in `{module}` {path}: it would write extra lines into the file; refused"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_value() {
        let text = "tasks:\n  - name: t\n    id: t.t\n    sshd:\n      settings:\n        Banner: \"a\\nb\"\n";
        let err = check(text, "pb.yml").unwrap_err().to_string();
        assert!(
            err.starts_with("pb.yml:6:17: a line break in `sshd` settings.Banner:"),
            "{err}"
        );
        let ok = "tasks:\n  - name: t\n    id: t.t\n    file: {path: /x, content: \"a\\nb\"}\n";
        assert!(check(ok, "pb.yml").is_ok());
    }
}
