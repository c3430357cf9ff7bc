//! The engine: builds a [`crate::plan::Plan`] from a playbook against a host, renders it,
//! and runs transactions ([`apply`]) with snapshots ([`snapshot`]) kept in the state
//! directory ([`state`]). Planning only reads; only [`apply`] writes, and only
//! through [`crate::host`]. Rules fail one at a time: a rule that cannot be
//! planned is an error entry of the plan ([`plan`]), one whose candidate its
//! validator rejects is left out before the transaction ([`isolate`]), and the
//! rest is planned and applied without them.

pub mod apply;
pub mod confirm;
pub mod isolate;
pub mod loaded;
pub mod lock_intent;
pub mod manifest;
pub mod redact;
pub mod render;
#[cfg(test)]
mod service_live_tests;
pub mod snapshot;
pub mod state;
pub mod step;
pub mod trust;
pub mod validate;

/// The plan vocabulary lives on the ground floor now ([`crate::plan`]); this
/// alias keeps `engine::plan` paths working while callers move.
pub use crate::plan;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::plan::{Change, Op, Plan, RuleError, Skip};

use crate::host::Host;
use crate::modules::{self, ModuleError};
use crate::playbook::{Playbook, selected};

/// Which tasks to plan.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tags: BTreeSet<String>,
    pub skip_tags: BTreeSet<String>,
    /// Rules not to plan at all, each with why (a candidate its validator
    /// rejected, see [`isolate`]): they become errors of the plan.
    pub exclude: BTreeMap<String, String>,
    /// Evaluate `probe:` rules (`check` does); otherwise they are skipped.
    pub probes: bool,
}

/// Why `plan` and `apply` skip a probe.
pub const PROBE_NOT_RUN: &str = "a probe: evaluated by `harden check`, never by plan or apply";

/// A module error as a rule's error entry: the message without the rule id.
fn rule_error(task: &crate::playbook::Task, e: &ModuleError) -> RuleError {
    let message = match e {
        ModuleError::Invalid { message, .. } => message.clone(),
        ModuleError::Fs { source, .. } => source.to_string(),
        ModuleError::Catalogue { .. } => e.to_string(),
    };
    failure(task, message)
}

/// The error entry of `task` failing for `message`.
fn failure(task: &crate::playbook::Task, message: String) -> RuleError {
    RuleError {
        rule_id: task.id.clone(),
        task: task.name.clone(),
        message,
    }
}

/// Why `task` is skipped on `host` without planning it: its `when:` does not
/// hold, or it is a probe and `filter` does not evaluate probes. (A module may
/// also skip its rule for want of what it reads: [`modules::Out::skipped`]. A
/// probe's verdict changes nothing and claims no path.)
fn skip_reason(task: &crate::playbook::Task, host: &Host, filter: &Filter) -> Option<String> {
    if let Some(when) = &task.when
        && let Err(why) = when.check(host)
    {
        return Some(why);
    }
    (task.module.is_probe() && !filter.probes).then(|| PROBE_NOT_RUN.to_string())
}

/// A path as "one path, one rule" knows it: its bytes without the empty and `.`
/// components `Path`'s own equality skips (`/a//b`, `/a/./b/` are `/a/b`),
/// copied only when there are any. Hashed in one go, not component by
/// component: a recursive rule claims every path of its tree.
fn claim_key(path: &std::path::Path) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    let clean = b.len() <= 1
        || (b.last() != Some(&b'/')
            && !b.ends_with(b"/.")
            && !b.windows(2).any(|w| w == b"//")
            && !b.windows(3).any(|w| w == b"/./"));
    if clean {
        Cow::Borrowed(b)
    } else {
        let mut normal = PathBuf::from("/");
        normal.extend(
            path.components()
                .skip_while(|c| matches!(c, std::path::Component::RootDir)),
        );
        Cow::Owned(normal.into_os_string().into_vec())
    }
}

/// Plans every selected task against the host. Reads only.
///
/// Rules fail one at a time (Puppet's model): a rule whose module refuses its
/// parameters or the host state, or that would change a path an earlier rule
/// changes ("one path, one rule"), becomes an entry of [`Plan::errors`] and
/// claims nothing; every other rule is still planned. One exception to "one
/// path, one rule": a rule may rewrite a whole file an earlier rule of the plan
/// writes when it planned on top of that write (its `expect` is the earlier
/// content, read through [`modules::Pending`]); several `user:` tasks edit
/// `/etc/passwd` that way, in order. Rules skipped by `when:` are listed in
/// [`Plan::skipped`] with the reason. `probe:` rules are evaluated only when
/// [`Filter::probes`] says so (their verdicts go to [`Plan::probes`]) and are
/// skipped otherwise, or when the host lacks what they read.
///
/// # Errors
/// Only a broken module catalogue, which no rule could plan past.
pub fn plan(host: &Host, playbook: &Playbook, filter: &Filter) -> Result<Plan, ModuleError> {
    let mut out = Plan::new(playbook.name.clone(), host.root.clone());
    // The changes of the rules accepted so far, in order: they stay where the
    // arena put them, so the claims borrow their paths instead of copying each
    // (a recursive rule claims every path of its tree).
    let accepted: typed_arena::Arena<Vec<Change>> = typed_arena::Arena::new();
    // Hashed: one lookup per path, however many rules came before.
    let mut owners: HashMap<Cow<[u8]>, &str> = HashMap::new();
    let mut made_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut pending = modules::Pending::default();
    for task in &playbook.tasks {
        if !selected(task, &filter.tags, &filter.skip_tags) {
            continue;
        }
        if let Some(why) = filter.exclude.get(&task.id) {
            out.errors.push(failure(task, why.clone()));
            continue;
        }
        let planned = match skip_reason(task, host, filter) {
            Some(reason) => Ok(modules::Out {
                skipped: Some(reason),
                ..modules::Out::default()
            }),
            None => modules::plan(host, &task.rule(), &task.module, &pending),
        };
        let mut planned = match planned {
            Ok(p) => p,
            Err(e @ ModuleError::Catalogue { .. }) => return Err(e),
            Err(e) => {
                out.errors.push(rule_error(task, &e));
                continue;
            }
        };
        if let Some(reason) = planned.skipped.take() {
            out.skipped.push(Skip {
                rule_id: task.id.clone(),
                reason,
            });
            continue;
        }
        out.probes.append(&mut planned.probes);
        for change in &mut planned.changes {
            change.references.clone_from(&task.references);
        }
        if !task.enforce {
            // Audit only: reported, never applied, so it claims no path and
            // later rules do not plan on top of it.
            out.audit.extend(planned.changes);
            out.notices.extend(planned.notices);
            out.planned.push(task.id.clone());
            continue;
        }
        // Claims are checked for the whole rule before any is recorded, so a
        // rule refused for a conflict leaves no trace for the rules after it.
        let mut dirs = made_dirs.clone();
        // Paths of earlier rules this one continues (a chained write), which
        // its later ops may change again.
        let mut shared: HashSet<Cow<[u8]>> = HashSet::new();
        let mut conflict = None;
        'changes: for change in &mut planned.changes {
            // Two rules may both need the same missing parent directory: make it once.
            change.ops.retain(|op| match op {
                Op::MakeDir(d) if d.path != std::path::Path::new(&change.target) => {
                    dirs.insert(d.path.clone())
                }
                _ => true,
            });
            for op in &change.ops {
                let Some(path) = op_path(op) else { continue };
                let key = claim_key(path);
                if let Some(other) = owners.get(key.as_ref()) {
                    if matches!(op, Op::WriteFile(w) if pending.continues(w)) {
                        shared.insert(key.clone());
                    } else if !shared.contains(&key) {
                        conflict = Some(format!(
                            "{} is also changed by rule {other}; one path, one rule",
                            path.display()
                        ));
                        break 'changes;
                    }
                }
            }
        }
        if let Some(message) = conflict {
            out.errors.push(failure(task, message));
            continue;
        }
        made_dirs = dirs;
        let changes: &Vec<Change> = accepted.alloc(planned.changes);
        for op in changes.iter().flat_map(|c| &c.ops) {
            if let Some(path) = op_path(op) {
                owners.insert(claim_key(path), &task.id);
            }
            if let Op::WriteFile(w) = op {
                pending.record(w);
            }
        }
        out.notices.extend(planned.notices);
        out.planned.push(task.id.clone());
    }
    drop(owners);
    out.changes = accepted.into_vec().into_iter().flatten().collect();
    Ok(out)
}

/// The path an op changes, if it changes one.
fn op_path(op: &Op) -> Option<&std::path::Path> {
    match op {
        Op::WriteFile(w) => Some(&w.path),
        Op::SetMeta(m) => Some(&m.path),
        Op::MakeDir(d) => Some(&d.path),
        Op::Remove(r) => Some(&r.path),
        Op::Symlink(l) => Some(&l.path),
        Op::SetSysctl(_) | Op::Package(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Cow, claim_key};

    #[test]
    fn a_path_claims_the_same_key_however_it_is_spelled() {
        for (a, b) in [
            ("/etc/motd", "/etc//motd"),
            ("/etc/motd", "/etc/./motd"),
            ("/etc/motd", "/etc/motd/"),
            ("/etc/motd", "/etc/motd/."),
            ("/etc/motd", "//etc///./motd//"),
        ] {
            assert_eq!(claim_key(Path::new(a)), claim_key(Path::new(b)), "{b}");
            assert_eq!(Path::new(a), Path::new(b), "as std compares them");
        }
        assert_ne!(
            claim_key(Path::new("/etc/motd")),
            claim_key(Path::new("/etc/motd.d"))
        );
        assert_ne!(
            claim_key(Path::new("/etc/a.")),
            claim_key(Path::new("/etc/a"))
        );
        assert_eq!(claim_key(Path::new("/")), claim_key(Path::new("//")));
        // A path spelled plainly is not copied.
        assert!(matches!(
            claim_key(Path::new("/srv/tree/f1")),
            Cow::Borrowed(_)
        ));
    }
}
