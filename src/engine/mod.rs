//! The engine: builds a [`crate::plan::Plan`] from a playbook against a host, renders it,
//! and runs transactions ([`apply`]) with snapshots ([`snapshot`]) kept in the state
//! directory ([`state`]). Planning only reads; only [`apply`] writes, and only
//! through [`crate::host`].

pub mod apply;
pub mod confirm;
pub mod loaded;
pub mod lock_intent;
pub mod redact;
pub mod render;
pub mod snapshot;
pub mod state;
pub mod trust;
pub mod validate;

/// The plan vocabulary lives on the ground floor now ([`crate::plan`]); this
/// alias keeps `engine::plan` paths working while callers move.
pub use crate::plan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::plan::{Notice, NoticeLevel, Op, Plan};

use crate::host::Host;
use crate::modules::{self, ModuleError};
use crate::playbook::{Playbook, selected};

/// Which tasks to plan.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tags: BTreeSet<String>,
    pub skip_tags: BTreeSet<String>,
}

/// Plans every selected task against the host. Reads only.
///
/// # Errors
/// A module refusing its parameters or the host state, or two rules that would
/// change the same path. One exception: a rule may rewrite a whole file an
/// earlier rule of the plan writes when it planned on top of that write (its
/// `expect` is the earlier content, read through [`modules::Pending`]); several
/// `user:` tasks edit `/etc/passwd` that way, in order.
pub fn plan(host: &Host, playbook: &Playbook, filter: &Filter) -> Result<Plan, ModuleError> {
    let mut out = Plan::new(playbook.name.clone(), host.root.clone());
    let mut owners: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut made_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut pending = modules::Pending::default();
    for task in &playbook.tasks {
        if !selected(task, &filter.tags, &filter.skip_tags) {
            continue;
        }
        if let Some(when) = &task.when
            && let Err(why) = when.check(host)
        {
            out.notices.push(Notice {
                rule_id: task.id.clone(),
                level: NoticeLevel::Info,
                message: format!("skipped: {why}"),
            });
            continue;
        }
        let mut planned = modules::plan(host, &task.rule(), &task.module, &pending)?;
        for change in &mut planned.changes {
            change.references.clone_from(&task.references);
        }
        if !task.enforce {
            // Audit only: reported, never applied, so it claims no path and
            // later rules do not plan on top of it.
            out.audit.extend(planned.changes);
            out.notices.extend(planned.notices);
            continue;
        }
        for change in &mut planned.changes {
            // Two rules may both need the same missing parent directory: make it once.
            change.ops.retain(|op| match op {
                Op::MakeDir(d) if d.path != std::path::Path::new(&change.target) => {
                    made_dirs.insert(d.path.clone())
                }
                _ => true,
            });
            for op in &change.ops {
                let path = match op {
                    Op::WriteFile(w) => &w.path,
                    Op::SetMeta(m) => &m.path,
                    Op::MakeDir(d) => &d.path,
                    Op::Remove(r) => &r.path,
                    Op::Symlink(l) => &l.path,
                    Op::SetSysctl(_) => continue,
                };
                let chained = matches!(op, Op::WriteFile(w) if pending.continues(w));
                if let Some(other) = owners.get(path)
                    && *other != task.id
                    && !chained
                {
                    return Err(ModuleError::Invalid {
                        rule: task.id.clone(),
                        message: format!(
                            "{} is also changed by rule {other}; one path, one rule",
                            path.display()
                        ),
                    });
                }
                owners.insert(path.clone(), task.id.clone());
            }
            for op in &change.ops {
                if let Op::WriteFile(w) = op {
                    pending.record(w);
                }
            }
        }
        out.changes.extend(planned.changes);
        out.notices.extend(planned.notices);
    }
    Ok(out)
}
