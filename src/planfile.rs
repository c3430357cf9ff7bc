//! Saved plans (`harden plan -o FILE`, `harden apply FILE`): the reviewer
//! approves what will actually happen. The file holds the playbook identity
//! (each source's hash, tags, variables), the root, and every change with its
//! operations in full: preconditions (what was observed: hashes, modes, live
//! values) and the bytes to write (hex; secret content is stored, never
//! printed, and the file is `0600`), sealed by a SHA-256 of the whole body.
//!
//! Applying a saved plan re-plans from the same playbook and requires the new
//! plan to be identical, operation for operation and byte for byte, to the
//! saved one; only then does it run, through the normal transaction, which
//! checks every precondition again under the lock. Re-planning (rather than
//! only re-checking the saved preconditions) also catches a change to anything
//! a module read without writing it, such as an `Include`d sshd file.
//!
//! `plan` still writes nothing on the host: `-o` writes only the file named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host::fs::{self, Owner};
use crate::plan::{Op, Plan, sha256_hex};
use crate::playbook::Source;

/// The plan file format version.
pub const VERSION: u32 = 1;

/// A plan file problem.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("plan file {path}: {message}")]
    Bad { path: PathBuf, message: String },
    #[error(
        "plan file {path} is stale, nothing was changed: {message}; run `harden plan -o` again and review it"
    )]
    Stale { path: PathBuf, message: String },
}

/// Where the plan came from, enough to plan it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `-p` arguments as given (absolute paths, or embedded names).
    pub playbooks: Vec<String>,
    /// SHA-256 of each playbook's text, in the same order.
    pub sha256: Vec<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub extra_vars: Vec<String>,
}

/// The sealed body of a plan file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Body {
    pub version: u32,
    pub harden_version: String,
    pub identity: Identity,
    pub root: PathBuf,
    /// The plan as [`fingerprint`] renders it: every field, ops and content.
    pub plan: Value,
}

/// A plan file: the body and its seal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    pub body: Body,
    /// SHA-256 of the body's canonical JSON.
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The whole plan as one JSON value: each change with its operations, each
/// write with its content in hex. Two plans with equal fingerprints do exactly
/// the same thing.
#[must_use]
pub fn fingerprint(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            let ops: Vec<Value> = c
                .ops
                .iter()
                .map(|op| {
                    let mut o = serde_json::to_value(op).unwrap_or(Value::Null);
                    if let (Op::WriteFile(w), Value::Object(m)) = (op, &mut o) {
                        m.insert("content_hex".into(), Value::String(hex(&w.content)));
                    }
                    o
                })
                .collect();
            if let Value::Object(m) = &mut v {
                m.insert("ops".into(), Value::Array(ops));
            }
            v
        })
        .collect();
    serde_json::json!({
        "playbook": plan.playbook,
        "root": plan.root,
        "changes": changes,
        "notices": plan.notices,
        // Which rules failed or were skipped is part of what was reviewed: a
        // rule that fails now, or no longer does, makes the file stale.
        "errors": plan.errors,
        "skipped": plan.skipped,
    })
}

fn seal(body: &Body) -> String {
    sha256_hex(&serde_json::to_vec(body).unwrap_or_default())
}

/// The identity of the playbooks named on the command line.
///
/// # Errors
/// A playbook file that cannot be read.
pub fn identity(
    playbooks: &[String],
    tags: &[String],
    skip_tags: &[String],
    extra_vars: &[String],
) -> Result<Identity, PlanFileError> {
    let mut names = Vec::new();
    let mut sums = Vec::new();
    for p in playbooks {
        match Source::resolve(p) {
            Source::Embedded(_, text) => {
                names.push(p.clone());
                sums.push(sha256_hex(text.as_bytes()));
            }
            Source::File(path) => {
                let bad = |message: String| PlanFileError::Bad {
                    path: path.clone(),
                    message,
                };
                let abs = std::fs::canonicalize(&path).map_err(|e| bad(e.to_string()))?;
                let text = crate::playbook::read_regular(&abs, crate::playbook::MAX_PLAYBOOK)
                    .map_err(|e| bad(e.to_string()))?;
                names.push(abs.to_string_lossy().into_owned());
                sums.push(sha256_hex(&text));
            }
        }
    }
    Ok(Identity {
        playbooks: names,
        sha256: sums,
        tags: tags.to_vec(),
        skip_tags: skip_tags.to_vec(),
        extra_vars: extra_vars.to_vec(),
    })
}

/// Writes the plan file (`0600`, atomically) at `path`, the only file `plan`
/// ever writes.
///
/// # Errors
/// When it cannot be written.
pub fn save(path: &Path, identity: Identity, plan: &Plan) -> Result<(), PlanFileError> {
    let body = Body {
        version: VERSION,
        harden_version: env!("CARGO_PKG_VERSION").into(),
        identity,
        root: plan.root.clone(),
        plan: fingerprint(plan),
    };
    let file = PlanFile {
        sha256: seal(&body),
        body,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
    bytes.push(b'\n');
    let abs = std::path::absolute(path).map_err(|e| PlanFileError::Bad {
        path: path.into(),
        message: e.to_string(),
    })?;
    let owner = Owner {
        mode: 0o600,
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    };
    fs::write_atomic(Path::new("/"), &abs, &bytes, owner, "harden-plan").map_err(|e| {
        PlanFileError::Bad {
            path: path.into(),
            message: e.to_string(),
        }
    })
}

/// Reads a plan file and checks its seal and version.
///
/// # Errors
/// Unreadable, not a plan file, tampered with, or from another format version.
pub fn load(path: &Path) -> Result<PlanFile, PlanFileError> {
    let bad = |message: String| PlanFileError::Bad {
        path: path.into(),
        message,
    };
    let bytes = crate::playbook::read_regular(path, crate::playbook::MAX_PLAYBOOK)
        .map_err(|e| bad(e.to_string()))?;
    let file: PlanFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.body.version != VERSION {
        return Err(bad(format!(
            "format version {} (this harden reads {VERSION})",
            file.body.version
        )));
    }
    if seal(&file.body) != file.sha256 {
        return Err(bad(
            "its content does not match its seal (edited or damaged)".into(),
        ));
    }
    Ok(file)
}

/// Checks that the playbooks are the ones planned and that planning again gives
/// exactly the saved plan.
///
/// # Errors
/// [`PlanFileError::Stale`] naming the first difference.
pub fn check_current(
    path: &Path,
    file: &PlanFile,
    now: &Identity,
    root: &Path,
    plan: &Plan,
) -> Result<(), PlanFileError> {
    let stale = |message: String| PlanFileError::Stale {
        path: path.into(),
        message,
    };
    if file.body.root != root {
        return Err(stale(format!(
            "it was made for root {}, not {}: run it with --root {}",
            file.body.root.display(),
            root.display(),
            file.body.root.display()
        )));
    }
    if file.body.identity != *now {
        return Err(stale("a playbook changed since the plan was made".into()));
    }
    let again = fingerprint(plan);
    if again != file.body.plan {
        return Err(stale(first_difference(&file.body.plan, &again)));
    }
    Ok(())
}

/// Names the first change whose planned operations differ.
fn first_difference(saved: &Value, now: &Value) -> String {
    let list = |v: &Value| -> BTreeMap<String, Value> {
        v["changes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let key = format!(
                            "{} {}",
                            c["rule_id"].as_str().unwrap_or(""),
                            c["target"].as_str().unwrap_or("")
                        );
                        (key, c.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (a, b) = (list(saved), list(now));
    for (k, v) in &a {
        match b.get(k) {
            None => return format!("{k} is no longer planned"),
            Some(w) if w != v => return format!("what {k} observed or would write changed"),
            Some(_) => {}
        }
    }
    if let Some(k) = b.keys().find(|k| !a.contains_key(*k)) {
        return format!("{k} would now be changed too");
    }
    let failed = |v: &Value| -> Vec<String> {
        v["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["rule_id"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (was, now) = (failed(saved), failed(now));
    if let Some(id) = now.iter().find(|id| !was.contains(id)) {
        return format!("rule {id} fails now");
    }
    if let Some(id) = was.iter().find(|id| !now.contains(id)) {
        return format!("rule {id} no longer fails");
    }
    "the host's state changed (notices or order differ)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seal_catches_an_edit() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("plan.json");
        let plan = Plan::new("x", "/r");
        let id = identity(&["baseline".into()], &[], &[], &[]).unwrap();
        save(&p, id, &plan).unwrap();
        assert!(load(&p).is_ok());
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"/r\"", "\"/s\"");
        std::fs::write(&p, text).unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("seal"));
    }
}
