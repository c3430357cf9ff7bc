//! Transactions: `apply` executes a plan, `rollback` restores a snapshot. Both take
//! the lock, snapshot everything they touch and write the journal before the first
//! write; `apply` validates every candidate next to its target before installing
//! anything, writes atomically, runs the deduplicated handlers, and verifies by
//! planning again. Any failure restores the snapshot and re-runs the handlers.

use std::path::{Path, PathBuf};

use super::snapshot::{self, Entry, Manifest, Saved, SnapshotError};
use super::state::{Journal, Outcome, StateDir, StateError, TxnKind, TxnResult, now_rfc3339};
use super::step::{Foreign, StepError};
use super::{lock_intent, manifest};
use crate::host::Host;
use crate::host::fs::{self, Kind, Owner};
use crate::host::kernel::read_live;
use crate::host::locks::{self, LockError};
use crate::host::service;
use crate::plan::{Handler, Lock, Observed, Op, Plan, SetMeta, sha256_hex};

/// Why a transaction could not start (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "transaction {txn} ({kind:?}) was interrupted (pid {pid}, started {started}); run `harden rollback` to restore its snapshot first"
    )]
    Interrupted {
        txn: String,
        kind: TxnKind,
        pid: u32,
        started: String,
    },
    #[error(
        "{path} changed since the plan was made ({detail}); run the plan again. Nothing was changed."
    )]
    Moved { path: String, detail: String },
    #[error("nothing to roll back: {0}")]
    NothingToRollBack(String),
}

/// How a transaction ended.
#[derive(Debug)]
pub struct Report {
    pub txn: String,
    pub outcome: Outcome,
    /// Why it failed, when it did.
    pub message: Option<String>,
    /// Handlers run, with how each went.
    pub handlers: Vec<(Handler, service::Outcome)>,
    /// Problems met while restoring a snapshot.
    pub restore_problems: Vec<String>,
}

pub use crate::host::crash::crash_point;

fn temp_tag(txn: &str) -> String {
    format!("harden.{txn}")
}

/// Refuses to start when an earlier transaction was interrupted.
fn check_no_interrupted(state: &StateDir) -> Result<(), TxnError> {
    if let Some(j) = state.journal()? {
        return Err(TxnError::Interrupted {
            txn: j.txn,
            kind: j.kind,
            pid: j.pid,
            started: j.started,
        });
    }
    Ok(())
}

fn moved(path: &Path, detail: &str) -> TxnError {
    TxnError::Moved {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

/// Checks that what the plan observed still holds: content, existence, links,
/// packages and kernel values. Modes and owners are checked by the snapshot taken
/// under the locks ([`check_meta`]): a recursive rule changes thousands, and that
/// one read of each is both its check and what a rollback restores.
fn check_preconditions(host: &Host, plan: &Plan) -> Result<(), TxnError> {
    // A file several rules rewrite in turn is checked against the disk once: each
    // later write expects the content of the one before it (see `crate::plan`).
    let mut written: std::collections::BTreeMap<&Path, &[u8]> = std::collections::BTreeMap::new();
    let mut dirs = fs::Dirs::new(&host.root);
    for op in plan.ops() {
        match op {
            Op::WriteFile(w) => {
                match written.get(w.path.as_path()) {
                    Some(prev) => {
                        let chained = Observed::File {
                            sha256: sha256_hex(prev),
                        };
                        if w.expect != chained {
                            return Err(moved(&w.path, "two writes in the plan disagree"));
                        }
                    }
                    None => {
                        check_observed(host, &w.path, &w.expect)?;
                    }
                }
                written.insert(&w.path, &w.content);
            }
            Op::Remove(r) => {
                check_observed(host, &r.path, &r.expect)?;
            }
            Op::Symlink(l) => {
                let now = fs::read_link(&host.root, &l.path)
                    .map_err(|e| moved(&l.path, &e.to_string()))?;
                let seen = now.map_or(Observed::Absent, |target| Observed::Link { target });
                if seen != l.expect {
                    return Err(moved(&l.path, "symlink"));
                }
            }
            Op::SetMeta(_) => {}
            Op::MakeDir(d) => {
                if dirs.lstat(&d.path).map_err(SnapshotError::from)?.is_some() {
                    return Err(moved(&d.path, "now exists"));
                }
            }
            Op::Package(p) => {
                let now = crate::host::packages::installed(host).map_err(|e| TxnError::Moved {
                    path: format!("package {}", p.name),
                    detail: e,
                })?;
                if now.contains_key(&p.name) == p.install {
                    return Err(TxnError::Moved {
                        path: format!("package {}", p.name),
                        detail: if p.install {
                            "installed since the plan".into()
                        } else {
                            "removed since the plan".into()
                        },
                    });
                }
                crate::host::packages::may_change(host).map_err(|e| TxnError::Moved {
                    path: format!("package {}", p.name),
                    detail: e,
                })?;
            }
            Op::SetSysctl(s) => {
                if read_live(&s.key).as_deref() != Some(s.expect.as_str()) {
                    return Err(TxnError::Moved {
                        path: format!("kernel parameter {}", s.key),
                        detail: "live value".into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Checks the metadata changes of `plan` against `entries`, the snapshot taken
/// under the lock (`entry_of[i]`: the entry of the `i`th op): that one read of
/// each path is both its precondition check and what a rollback restores, so
/// they cannot disagree.
fn check_meta(plan: &Plan, entry_of: &[usize], entries: &[Entry]) -> Result<(), TxnError> {
    for (op, &e) in plan.ops().zip(entry_of) {
        let Op::SetMeta(m) = op else { continue };
        let now = match entries.get(e) {
            Some(Entry::Path {
                saved: Saved::File { mode, uid, gid, .. } | Saved::Dir { mode, uid, gid },
                ..
            }) => Some((*mode, *uid, *gid)),
            _ => None,
        };
        if now != Some(m.expect) {
            return Err(moved(&m.path, "mode or owner"));
        }
    }
    Ok(())
}

fn check_observed(host: &Host, path: &Path, expect: &Observed) -> Result<(), TxnError> {
    let meta = host.lstat(path).map_err(|e| moved(path, &e.to_string()))?;
    let ok = match (expect, meta.map(|m| m.kind)) {
        (Observed::Absent, None | Some(Kind::Symlink)) | (Observed::Dir, Some(Kind::Dir)) => true,
        (Observed::File { sha256 }, Some(Kind::File)) => host
            .read(path)
            .map_err(|e| moved(path, &e.to_string()))?
            .is_some_and(|b| sha256_hex(&b) == *sha256),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(moved(path, "content or existence"))
    }
}

/// Runs every validator of the plan ([`super::validate`]: staged copies, the real
/// tool, confined for a root other than `/`). Returns the first rejection.
fn validate(host: &Host, plan: &Plan) -> Result<(), StepError> {
    let secret = plan.secret_paths();
    for op in plan.ops() {
        let Op::WriteFile(w) = op else { continue };
        super::validate::run_scrubbed(host, plan, w, secret.contains(w.path.as_path())).map_err(
            |error| StepError::Validate {
                path: w.path.clone(),
                error,
            },
        )?;
    }
    Ok(())
}

fn perform(
    host: &Host,
    dirs: &mut fs::Dirs,
    i: usize,
    op: &Op,
    tag: &str,
) -> Result<(), StepError> {
    let root = &host.root;
    let r = match op {
        Op::WriteFile(w) => {
            let owner = Owner {
                mode: w.mode,
                uid: w.uid,
                gid: w.gid,
            };
            let tmp = fs::write_temp(root, &w.path, &w.content, owner, tag, "tmp");
            crash_point(&format!("op-{i}-staged"));
            tmp.and_then(|tmp| fs::install(root, &tmp, &w.path))
        }
        Op::SetMeta(m) => dirs.change_meta(&m.path, m.mode, (m.uid, m.gid), m.expect.0),
        Op::MakeDir(d) => fs::make_dir(
            root,
            &d.path,
            Owner {
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
            },
        ),
        Op::Remove(r) => match dirs.lstat(&r.path) {
            Ok(Some(m)) if m.kind == Kind::Dir => fs::remove_dir(root, &r.path).and_then(|empty| {
                // The directory may be one `dirs` holds open.
                dirs.forget();
                if empty {
                    Ok(())
                } else {
                    Err(fs::FsError::NotADirectory {
                        path: r.path.clone(),
                    })
                }
            }),
            Ok(_) => fs::remove_file(root, &r.path),
            Err(e) => Err(e),
        },
        Op::Symlink(l) => match &l.target {
            Some(target) => fs::symlink(root, &l.path, target, tag),
            None => match fs::read_link(root, &l.path) {
                Ok(_) => fs::remove_file(root, &l.path),
                Err(e) => Err(e),
            },
        },
        Op::SetSysctl(s) => {
            return Ok(snapshot::write_sysctl(&s.key, &s.value)?);
        }
        // Run together by `perform_packages`, at the first package op.
        Op::Package(_) => return Ok(()),
    };
    Ok(r?)
}

/// The metadata changes of distinct paths the ops start with (`touch_of`: the
/// snapshot entry of each op), which may be made in any order: a recursive
/// rule's tree, one op per path.
fn meta_run<'p>(ops: &[&'p Op], touch_of: &[usize]) -> Vec<&'p SetMeta> {
    let mut seen = std::collections::HashSet::new();
    ops.iter()
        .zip(touch_of)
        .map_while(|(op, t)| match op {
            Op::SetMeta(m) if seen.insert(*t) => Some(m),
            _ => None,
        })
        .collect()
}

/// Makes a run of metadata changes of distinct paths ([`meta_run`]; `first` is
/// the index of its first op in the plan), on the cores available: in batches,
/// each spread over the threads in chunks of paths. A batch is finished by
/// every thread before the next starts, and a crash point (debug builds) falls
/// only between batches: a kill there leaves every path old or new, as between
/// two ops written one by one. The error reported is the first in plan order;
/// a restore undoes whatever else the batch did.
fn perform_meta(host: &Host, run: &[&SetMeta], first: usize) -> Result<(), StepError> {
    use rayon::prelude::*;
    for (b, batch) in run.chunks(snapshot::BATCH).enumerate() {
        let done: Vec<Result<(), StepError>> = batch
            .par_chunks(snapshot::CHUNK)
            .map(|chunk| {
                let mut dirs = fs::Dirs::new(&host.root);
                for m in chunk {
                    dirs.change_meta(&m.path, m.mode, (m.uid, m.gid), m.expect.0)?;
                }
                Ok(())
            })
            .collect();
        done.into_iter().collect::<Result<(), StepError>>()?;
        if cfg!(debug_assertions) {
            let start = first + b * snapshot::BATCH;
            for i in start..start + batch.len() {
                crash_point(&format!("op-{i}-done"));
            }
        }
    }
    Ok(())
}

/// Every package op of the plan in one package manager call per direction (after
/// `apt-get update` when the root has no package lists yet).
fn perform_packages(host: &Host, plan: &Plan) -> Result<(), StepError> {
    use crate::host::packages::{self, PackageRun, has_lists};
    let (mut install, mut remove) = (Vec::new(), Vec::new());
    for op in plan.ops() {
        if let Op::Package(p) = op {
            if p.install {
                install.push(p.name.clone());
            } else {
                remove.push(p.name.clone());
            }
        }
    }
    let run = |r: &PackageRun| packages::run(host, r).map_err(StepError::Packages);
    if !install.is_empty() {
        if !has_lists(host).map_err(StepError::Packages)? {
            run(&PackageRun::Update)?;
        }
        run(&PackageRun::Install(install))?;
    }
    if !remove.is_empty() {
        run(&PackageRun::Remove(remove))?;
    }
    Ok(())
}

fn run_handlers(host: &Host, handlers: &[Handler]) -> Vec<(Handler, service::Outcome)> {
    handlers
        .iter()
        .map(|h| (h.clone(), service::run(host, h)))
        .collect()
}

/// The handlers that settle a restored snapshot: the same reloads, and a unit the
/// transaction started (or stopped) stopped (or started) again.
fn undo_handlers(handlers: &[Handler]) -> Vec<Handler> {
    handlers.iter().map(Handler::undo).collect()
}

/// The first handler that failed, as the step error that undoes the transaction.
fn failed_handler(ran: &[(Handler, service::Outcome)]) -> Option<StepError> {
    ran.iter().find_map(|(h, o)| match o {
        service::Outcome::Failed(message) => Some(StepError::Handler {
            handler: h.clone(),
            message: message.clone(),
        }),
        _ => None,
    })
}

struct Txn<'a> {
    host: &'a Host,
    state: &'a StateDir,
    id: String,
    dir: std::path::PathBuf,
    manifest: Manifest,
}

impl Txn<'_> {
    fn finish(&self, outcome: Outcome, message: Option<String>) -> Result<(), StateError> {
        self.state.put_json(
            &self.dir,
            "result.json",
            &TxnResult {
                outcome,
                finished: now_rfc3339(),
                message,
                reverted_by: None,
            },
        )
    }

    /// Restores the snapshot, re-runs the handlers and records the outcome.
    fn recover(
        &self,
        reason: &StepError,
        mut handlers: Vec<(Handler, service::Outcome)>,
    ) -> Report {
        let reason = reason.to_string();
        let mut problems = snapshot::restore(
            self.host,
            self.state,
            &self.dir,
            &self.manifest.entries,
            &temp_tag(&self.id),
        );
        handlers.extend(run_handlers(
            self.host,
            &undo_handlers(&self.manifest.handlers),
        ));
        let outcome = if problems.is_empty() {
            Outcome::RolledBack
        } else {
            Outcome::RollbackFailed
        };
        // The journal goes only once the outcome is on disk: otherwise the next
        // run reports the transaction as interrupted, and `harden rollback`
        // (idempotent) settles it. A journal left after the result is written is
        // recognised as stale, so failing to clear it is harmless.
        match self.finish(outcome, Some(reason.clone())) {
            Ok(()) if problems.is_empty() => {
                let _ = self.state.clear_journal();
            }
            Ok(()) => {}
            Err(e) => problems.push(format!("cannot record the outcome: {e}")),
        }
        Report {
            txn: self.id.clone(),
            outcome,
            message: Some(reason),
            handlers,
            restore_problems: problems,
        }
    }
}

/// What a new transaction is about.
struct Begin<'t> {
    kind: TxnKind,
    playbook: &'t str,
    restores: Option<String>,
    touches: &'t [snapshot::Touch<'t>],
    /// The plan whose metadata changes the snapshot checks, with the touch of
    /// each of its ops ([`check_meta`]).
    checks: Option<(&'t Plan, &'t [usize])>,
    changes: usize,
    rules: Vec<String>,
    handlers: Vec<Handler>,
    locks: Vec<Lock>,
}

/// Snapshots everything the transaction touches, writes its manifest, then the
/// journal: from here on a crash is recoverable.
fn begin<'a>(host: &'a Host, state: &'a StateDir, b: Begin) -> Result<Txn<'a>, TxnError> {
    let Begin {
        kind,
        playbook,
        restores,
        touches,
        checks,
        changes,
        rules,
        handlers,
        locks,
    } = b;
    let (id, dir) = state.new_txn()?;
    let entries = snapshot::take(&host.root, state, &dir, touches)?;
    if let Some(Err(e)) = checks.map(|(plan, of_op)| check_meta(plan, of_op, &entries)) {
        // No manifest, no journal: nothing was changed, and nothing is left.
        state.discard_txn(&dir)?;
        return Err(e);
    }
    let manifest = Manifest {
        id: id.clone(),
        kind,
        started: now_rfc3339(),
        playbook: playbook.to_string(),
        root: host.root.clone(),
        restores: restores.clone(),
        changes,
        rules,
        handlers,
        locks,
        entries,
    };
    state.put_with(&dir, manifest::FILE, &mut |w| manifest::write(w, &manifest))?;
    crash_point("after-snapshot");
    state.set_journal(&Journal {
        txn: id.clone(),
        kind,
        pid: std::process::id(),
        started: manifest.started.clone(),
        restores,
    })?;
    crash_point("after-journal");
    Ok(Txn {
        host,
        state,
        id,
        dir,
        manifest,
    })
}

/// Computes the plan again after the writes, for verification.
pub type Replan<'a> = dyn Fn() -> Result<Plan, Foreign> + 'a;

/// Applies `plan`; `replan` computes the plan again for verification.
///
/// # Errors
/// Only before any change (lock held, interrupted transaction, precondition moved,
/// snapshot failure). Failures after the first change are a [`Report`] whose
/// outcome says whether the snapshot was restored.
pub fn apply(
    host: &Host,
    state: &StateDir,
    plan: &Plan,
    replan: &Replan,
) -> Result<Report, TxnError> {
    apply_armed(host, state, plan, replan, &|_| Ok(()))
}

/// [`apply`] with `arm` called once the transaction is journaled and before its
/// first write, with the transaction id: confirm-or-revert starts its watchdog
/// there, so a process killed at any later point is still reverted. When `arm`
/// fails, nothing is written and the transaction ends rolled back.
///
/// # Errors
/// As [`apply`].
pub fn apply_armed(
    host: &Host,
    state: &StateDir,
    plan: &Plan,
    replan: &Replan,
    arm: &dyn Fn(&str) -> Result<(), Foreign>,
) -> Result<Report, TxnError> {
    // Checked once before the state directory is even made, so a plan whose
    // files moved leaves no trace; checked again below, under the locks. A
    // moved mode or owner is found by the snapshot, under the locks, and its
    // transaction directory removed (see `check_meta`).
    check_preconditions(host, plan)?;
    let _lock = state.lock()?;
    check_no_interrupted(state)?;
    lock_intent::sweep(&host.root, state)?;
    // Other programs' locks (shadow-utils' for the account databases) are taken
    // before the preconditions are checked and held until the end, restore
    // included: nothing can change those files between check, write and verify.
    // Which ones is recorded first: a crash before the journal exists leaves
    // them to the next run's sweep, not to the operator.
    let plan_locks = plan.locks();
    let _intent = lock_intent::record(state, &plan_locks)?;
    let _held = locks::acquire(&host.root, &plan_locks)?;
    crash_point("after-locks");
    check_preconditions(host, plan)?;
    let mut rules: Vec<String> = plan.changes.iter().map(|c| c.rule_id.clone()).collect();
    rules.dedup();
    let handlers = plan.handlers();
    let (touches, touch_of) = snapshot::touches_indexed(plan.ops());
    let txn = begin(
        host,
        state,
        Begin {
            kind: TxnKind::Apply,
            playbook: &plan.playbook,
            restores: None,
            touches: &touches,
            checks: Some((plan, &touch_of)),
            changes: plan.changes.len(),
            rules,
            handlers: handlers.clone(),
            locks: plan_locks,
        },
    )?;
    drop(touches);
    if let Err(e) = arm(&txn.id) {
        return Ok(txn.recover(&StepError::Arm(e), Vec::new()));
    }
    crash_point("after-arm");
    let tag = temp_tag(&txn.id);
    if let Err(e) = validate(host, plan) {
        // Nothing was installed. Without its outcome on disk the journal stays,
        // and the next run points at `harden rollback` (a no-op restore).
        let reason = e.to_string();
        txn.finish(Outcome::ValidationFailed, Some(reason.clone()))?;
        state.clear_journal()?;
        return Ok(Report {
            txn: txn.id,
            outcome: Outcome::ValidationFailed,
            message: Some(reason),
            handlers: Vec::new(),
            restore_problems: Vec::new(),
        });
    }
    let mut packages_done = false;
    let mut dirs = fs::Dirs::new(&host.root);
    let ops: Vec<&Op> = plan.ops().collect();
    let mut i = 0;
    while i < ops.len() {
        let run = meta_run(&ops[i..], &touch_of[i..]);
        if run.len() > 1 {
            if let Err(e) = perform_meta(host, &run, i) {
                return Ok(txn.recover(&e, Vec::new()));
            }
            i += run.len();
            continue;
        }
        let op = ops[i];
        if matches!(op, Op::Package(_)) && !packages_done {
            packages_done = true;
            if let Err(e) = perform_packages(host, plan) {
                return Ok(txn.recover(&e, Vec::new()));
            }
        }
        if let Err(e) = perform(host, &mut dirs, i, op, &tag) {
            return Ok(txn.recover(&e, Vec::new()));
        }
        if cfg!(debug_assertions) {
            crash_point(&format!("op-{i}-done"));
        }
        i += 1;
    }
    drop(touch_of);
    crash_point("before-handlers");
    let ran = run_handlers(host, &handlers);
    if let Some(e) = failed_handler(&ran) {
        return Ok(txn.recover(&e, ran));
    }
    crash_point("before-verify");
    let next_run = match verify(plan, replan()) {
        Ok(next_run) => next_run,
        Err(e) => return Ok(txn.recover(&e, ran)),
    };
    txn.finish(Outcome::Committed, next_run.clone())?;
    crash_point("before-clear-journal");
    state.clear_journal()?;
    Ok(Report {
        txn: txn.id,
        outcome: Outcome::Committed,
        message: next_run,
        handlers: ran,
        restore_problems: Vec::new(),
    })
}

/// Checks the plan computed again after the writes: nothing may be left to
/// change, except rules `when:` skipped that hold now because this apply made
/// their condition true (a package brought the file they test): those are the
/// next run's to converge, named in the returned message.
fn verify(plan: &Plan, again: Result<Plan, Foreign>) -> Result<Option<String>, StepError> {
    let again = again.map_err(StepError::Replan)?;
    let was_skipped = |id: &str| plan.skipped.iter().any(|s| s.rule_id == id);
    let (newly, left): (Vec<_>, Vec<_>) =
        again.changes.iter().partition(|c| was_skipped(&c.rule_id));
    if !left.is_empty() {
        let left: Vec<String> = left
            .iter()
            .map(|c| format!("{} {}", c.rule_id, c.target))
            .collect();
        return Err(StepError::Unconverged(left));
    }
    let mut ids: Vec<&str> = newly.iter().map(|c| c.rule_id.as_str()).collect();
    ids.dedup();
    Ok((!ids.is_empty()).then(|| {
        format!(
            "rules skipped by `when:` apply now that this run changed the host (apply again to converge them): {}",
            ids.join(", ")
        )
    }))
}

/// Sweeps the lock files a run killed while taking the shadow-utils locks left
/// behind (see [`lock_intent`]), under the state lock; returns what was removed.
///
/// # Errors
/// When the state lock is held or the record is unusable.
pub fn sweep_stale_locks(host: &Host, state: &StateDir) -> Result<lock_intent::Swept, TxnError> {
    if !state.path.join("locks.json").exists() {
        return Ok(lock_intent::Swept::default());
    }
    let _lock = state.lock()?;
    Ok(lock_intent::sweep(&host.root, state)?)
}

/// Picks the transaction `rollback` restores: the named one, the interrupted one,
/// or the newest committed one.
/// The transaction a rollback would restore, with what it recorded.
pub struct RollbackTarget {
    pub id: String,
    /// The journal of an interrupted transaction, when there is one.
    pub journal: Option<Journal>,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub result: Option<TxnResult>,
}

/// Finds the transaction `requested` (default: the interrupted one, else the
/// latest committed) and checks that its changes are in place on this root.
fn resolve_rollback(
    host: &Host,
    state: &StateDir,
    requested: Option<&str>,
) -> Result<RollbackTarget, TxnError> {
    let (target, journal) = rollback_target(state, requested)?;
    if let Some(j) = &journal
        && requested.is_some_and(|r| r != j.restores.as_deref().unwrap_or(&j.txn))
    {
        return Err(TxnError::Interrupted {
            txn: j.txn.clone(),
            kind: j.kind,
            pid: j.pid,
            started: j.started.clone(),
        });
    }
    let dir = state.txn_dir(&target)?;
    let manifest = load_manifest(host, state, &dir, &target)?;
    let result: Option<TxnResult> = state.get_json(&dir, "result.json")?;
    if journal.is_none()
        && let Some(r) = &result
        && r.outcome != Outcome::Committed
    {
        return Err(TxnError::NothingToRollBack(format!(
            "transaction {target} {}; its changes are not in place",
            r.outcome.words()
        )));
    }
    if manifest.root != host.root {
        return Err(TxnError::NothingToRollBack(format!(
            "transaction {target} was made for root {}, not {}: run it with --root {}",
            manifest.root.display(),
            host.root.display(),
            manifest.root.display()
        )));
    }
    Ok(RollbackTarget {
        id: target,
        journal,
        dir,
        manifest,
        result,
    })
}

/// What `rollback` would restore, read without the lock and without writing.
///
/// # Errors
/// As [`rollback`] before its first change.
pub fn rollback_preview(
    host: &Host,
    state: &StateDir,
    requested: Option<&str>,
) -> Result<RollbackTarget, TxnError> {
    resolve_rollback(host, state, requested)
}

fn rollback_target(
    state: &StateDir,
    requested: Option<&str>,
) -> Result<(String, Option<Journal>), TxnError> {
    let journal = state.journal()?;
    if let Some(id) = requested {
        state.txn_dir(id)?;
        return Ok((id.to_string(), journal));
    }
    if let Some(j) = &journal {
        // An interrupted rollback is resumed by restoring what it was restoring.
        let target = j.restores.clone().unwrap_or_else(|| j.txn.clone());
        return Ok((target, journal));
    }
    for id in state.txn_ids()?.iter().rev() {
        let dir = state.txn_dir(id)?;
        let result: Option<TxnResult> = state.get_json(&dir, "result.json")?;
        if result.is_some_and(|r| r.outcome == Outcome::Committed) {
            return Ok((id.clone(), None));
        }
    }
    Err(TxnError::NothingToRollBack(
        "no committed transaction in the history".into(),
    ))
}

/// Removes the temp files an interrupted rollback (journal `j`, restoring
/// `target`) left next to the paths it was restoring.
fn sweep_interrupted(
    host: &Host,
    journal: Option<&Journal>,
    target: &str,
    manifest: &Manifest,
) -> Vec<String> {
    let Some(j) = journal.filter(|j| j.txn != target) else {
        return Vec::new();
    };
    let (tag, mut dirs) = (temp_tag(&j.txn), fs::Dirs::new(&host.root));
    snapshot::parents(&manifest.entries)
        .into_iter()
        .filter_map(|parent| dirs.sweep_temps(parent, &tag).err())
        .map(|e| e.to_string())
        .collect()
}

/// Reads the manifest of transaction `target` and validates it as data (see
/// [`crate::engine::loaded`]).
fn load_manifest(
    host: &Host,
    state: &StateDir,
    dir: &Path,
    target: &str,
) -> Result<Manifest, TxnError> {
    let (manifest, file) = if let Some(bytes) = state.get_bytes(dir, manifest::FILE)? {
        let file = dir.join(manifest::FILE);
        let m = manifest::read(&bytes).map_err(|e| StateError::Corrupt {
            path: file.clone(),
            message: e,
        })?;
        (m, file)
    } else {
        // Written by a version before the line format.
        let m: Manifest = state.get_json(dir, manifest::FILE_V1)?.ok_or_else(|| {
            TxnError::NothingToRollBack(format!("transaction {target} has no snapshot manifest"))
        })?;
        (m, dir.join(manifest::FILE_V1))
    };
    crate::engine::loaded::manifest(&manifest, &file, &host.root, &state.path)?;
    Ok(manifest)
}

/// Restores the snapshot of a transaction (the last committed one, or the
/// interrupted one, by default). A rollback is itself a transaction.
///
/// # Errors
/// Before any change: lock held, unknown transaction, nothing to roll back.
pub fn rollback(
    host: &Host,
    state: &StateDir,
    requested: Option<&str>,
) -> Result<Report, TxnError> {
    let _lock = state.lock()?;
    let RollbackTarget {
        id: target,
        journal,
        dir,
        manifest,
        result,
    } = resolve_rollback(host, state, requested)?;
    lock_intent::sweep(&host.root, state)?;
    let _intent = lock_intent::record(state, &manifest.locks)?;
    let _held = locks::acquire(&host.root, &manifest.locks)?;
    // Snapshot the present state of everything the target touched, so this
    // rollback can itself be rolled back.
    // In the order this rollback changes them (the target's, backwards), so that
    // a rollback of this rollback, walking them backwards again, makes a
    // directory before the files in it.
    let touches = snapshot::touches_of(manifest.entries.iter().rev());
    let txn = begin(
        host,
        state,
        Begin {
            kind: TxnKind::Rollback,
            playbook: &manifest.playbook,
            restores: Some(target.clone()),
            touches: &touches,
            checks: None,
            changes: manifest.changes,
            rules: manifest.rules.clone(),
            handlers: undo_handlers(&manifest.handlers),
            locks: manifest.locks.clone(),
        },
    )?;
    drop(touches);
    let mut problems = snapshot::restore(host, state, &dir, &manifest.entries, &temp_tag(&target));
    problems.extend(sweep_interrupted(
        host,
        journal.as_ref(),
        &target,
        &manifest,
    ));
    crash_point("rollback-restored");
    let handlers = run_handlers(host, &undo_handlers(&manifest.handlers));
    if let Some(e) = failed_handler(&handlers) {
        problems.push(e.to_string());
    }
    let outcome = if problems.is_empty() {
        Outcome::Committed
    } else {
        Outcome::RollbackFailed
    };
    txn.finish(outcome, (!problems.is_empty()).then(|| problems.join("; ")))?;
    if problems.is_empty() {
        let mut r = result.unwrap_or(TxnResult {
            outcome: Outcome::Reverted,
            finished: now_rfc3339(),
            message: Some("interrupted".into()),
            reverted_by: None,
        });
        r.outcome = Outcome::Reverted;
        r.reverted_by = Some(txn.id.clone());
        state.put_json(&dir, "result.json", &r)?;
        state.clear_journal()?;
    }
    Ok(Report {
        txn: txn.id,
        outcome,
        message: Some(format!("restored transaction {target}")),
        handlers,
        restore_problems: problems,
    })
}

/// One line of `harden history`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryLine {
    pub id: String,
    pub kind: TxnKind,
    pub started: String,
    pub playbook: String,
    pub changes: usize,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The header of transaction `dir`'s manifest, in either form (an earlier
/// version's `manifest.json` has the same fields; its entries are skipped while
/// reading, never collected); `None` when it has none (a transaction that ended
/// before its snapshot was saved).
fn manifest_head(state: &StateDir, dir: &Path) -> Result<Option<manifest::Head>, TxnError> {
    let Some(bytes) = state.get_bytes(dir, manifest::FILE)? else {
        return Ok(state.get_json::<manifest::Head>(dir, manifest::FILE_V1)?);
    };
    let head = manifest::read_head(&bytes).map_err(|e| StateError::Corrupt {
        path: dir.join(manifest::FILE),
        message: e,
    })?;
    Ok(Some(head))
}

/// The transactions of a state directory, oldest first.
///
/// # Errors
/// When the state directory cannot be read.
pub fn history(state: &StateDir) -> Result<Vec<HistoryLine>, TxnError> {
    let journal = state.journal()?;
    let running = state.is_locked();
    let mut out = Vec::new();
    for id in state.txn_ids()? {
        let dir = state.txn_dir(&id)?;
        let Some(m) = manifest_head(state, &dir)? else {
            continue;
        };
        let r: Option<TxnResult> = state.get_json(&dir, "result.json")?;
        let result = match (&r, &journal) {
            (Some(r), _) => match r.outcome {
                Outcome::Reverted => {
                    format!("reverted by {}", r.reverted_by.as_deref().unwrap_or("?"))
                }
                o => serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            },
            (None, Some(j)) if j.txn == id && running => "in progress".into(),
            (None, Some(j)) if j.txn == id => "interrupted".into(),
            (None, _) => "incomplete".into(),
        };
        let restores = m.restores.as_ref().map(|t| format!("restores {t}"));
        out.push(HistoryLine {
            id,
            kind: m.kind,
            started: m.started,
            playbook: m.playbook,
            changes: m.changes,
            result,
            message: r.and_then(|r| r.message).or(restores),
        });
    }
    Ok(out)
}

/// Entries saved for a path in a manifest (used by tests and reports).
#[must_use]
pub fn saved_of<'a>(manifest: &'a Manifest, path: &Path) -> Option<&'a Saved> {
    manifest.entries.iter().find_map(|e| match e {
        Entry::Path { path: p, saved } if p == path => Some(saved),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::host::facts::Init;
    use crate::host::runner::RecordingRunner;
    use crate::plan::Verb;
    use crate::plan::{Change, WriteFile};
    use crate::playbook::Severity;

    fn setup(runner: Arc<RecordingRunner>) -> (tempfile::TempDir, Host, StateDir, Plan) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/app.conf"), "old\n").unwrap();
        let mut host = Host::new(root.clone(), runner);
        host.facts.init = Init::Systemd;
        let state = StateDir::new(t.path().join("state")).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let change = Change {
            rule_id: "app.conf".into(),
            task: "app".into(),
            severity: Severity::High,
            module: "file".into(),
            target: "/etc/app.conf".into(),
            summary: "update".into(),
            references: std::collections::BTreeMap::new(),
            diff: None,
            handlers: vec![Handler::systemctl(Verb::Reload, "app")],
            locks: Vec::new(),
            ops: vec![Op::WriteFile(WriteFile {
                path: PathBuf::from("/etc/app.conf"),
                content: b"new\n".to_vec(),
                mode: 0o644,
                uid,
                gid,
                expect: Observed::File {
                    sha256: sha256_hex(b"old\n"),
                },
                validators: Vec::new(),
            })],
        };
        let plan = Plan {
            changes: vec![change],
            ..Plan::new("t", root)
        };
        (t, host, state, plan)
    }

    fn empty(plan: &Plan) -> Plan {
        Plan {
            changes: Vec::new(),
            ..plan.clone()
        }
    }

    #[test]
    fn a_failed_reload_restores_the_snapshot_and_reloads_again() {
        let runner = Arc::new(RecordingRunner::failing_on("reload app"));
        let (_t, host, state, plan) = setup(runner.clone());
        let report = apply(&host, &state, &plan, &|| Ok(empty(&plan))).unwrap();
        assert_eq!(report.outcome, Outcome::RolledBack);
        assert!(
            report
                .message
                .unwrap()
                .contains("handler `reload app` failed")
        );
        assert_eq!(
            std::fs::read_to_string(host.path(Path::new("/etc/app.conf"))).unwrap(),
            "old\n"
        );
        let reload = vec!["systemctl".to_string(), "reload".into(), "app".into()];
        assert_eq!(runner.calls(), vec![reload.clone(), reload]);
        assert!(state.journal().unwrap().is_none());
    }

    #[test]
    fn handlers_run_once_after_all_writes() {
        let runner = Arc::new(RecordingRunner::new());
        let (_t, host, state, mut plan) = setup(runner.clone());
        let mut second = plan.changes[0].clone();
        second.rule_id = "other".into();
        second.ops.clear();
        plan.changes.push(second);
        let report = apply(&host, &state, &plan, &|| Ok(empty(&plan))).unwrap();
        assert_eq!(report.outcome, Outcome::Committed);
        assert_eq!(runner.calls().len(), 1, "{:?}", runner.calls());
    }

    #[test]
    fn a_failed_verification_restores_the_snapshot() {
        let runner = Arc::new(RecordingRunner::new());
        let (_t, host, state, plan) = setup(runner);
        let report = apply(&host, &state, &plan, &|| Ok(plan.clone())).unwrap();
        assert_eq!(report.outcome, Outcome::RolledBack);
        assert!(report.message.unwrap().contains("verification failed"));
        assert_eq!(
            std::fs::read_to_string(host.path(Path::new("/etc/app.conf"))).unwrap(),
            "old\n"
        );
    }

    /// A plan that makes `/etc/app.conf` `0600`, whose mode then moves to `0640`.
    fn mode_moved_after_plan(host: &Host, plan: &mut Plan) -> PathBuf {
        let path = PathBuf::from("/etc/app.conf");
        let m = host.lstat(&path).unwrap().unwrap();
        plan.changes[0].ops = vec![Op::SetMeta(crate::plan::SetMeta {
            path: path.clone(),
            mode: Some(0o600),
            uid: None,
            gid: None,
            expect: (m.mode, m.uid, m.gid),
        })];
        std::fs::set_permissions(
            host.path(&path),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .unwrap();
        path
    }

    #[test]
    fn only_metadata_changes_of_distinct_paths_run_in_parallel() {
        let meta = |p: &str| {
            Op::SetMeta(crate::plan::SetMeta {
                path: p.into(),
                mode: Some(0o600),
                uid: None,
                gid: None,
                expect: (0o644, 0, 0),
            })
        };
        let write = Op::WriteFile(WriteFile {
            path: "/etc/x".into(),
            content: b"x".to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            expect: crate::plan::Observed::Absent,
            validators: Vec::new(),
        });
        let ops = [meta("/a"), meta("/b"), meta("/a"), write, meta("/c")];
        let ops: Vec<&Op> = ops.iter().collect();
        let (_, touch_of) = snapshot::touches_indexed(ops.iter().copied());
        // `/a` again is the same snapshot entry: from there, one by one.
        let paths = |from: usize| -> Vec<&Path> {
            meta_run(&ops[from..], &touch_of[from..])
                .iter()
                .map(|m| m.path.as_path())
                .collect()
        };
        assert_eq!(paths(0), [Path::new("/a"), Path::new("/b")]);
        assert_eq!(paths(2), [Path::new("/a")]);
        assert!(paths(3).is_empty());
        assert_eq!(paths(4), [Path::new("/c")]);
    }

    /// A path that fails in the middle of a parallel batch: the error is the
    /// one reported, and every path the batch (or an earlier one) changed is
    /// restored.
    #[test]
    fn a_failure_inside_a_parallel_batch_restores_every_path() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (t, host, state, plan) = setup(Arc::new(RecordingRunner::new()));
        let root = host.root.clone();
        let n = snapshot::BATCH + 1000;
        let mut ops = Vec::new();
        for i in 0..n {
            let rel = format!("srv/d{}/f{i}", i / 500);
            std::fs::create_dir_all(root.join(&rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(&rel), "x").unwrap();
            std::fs::set_permissions(root.join(&rel), PermissionsExt::from_mode(0o644)).unwrap();
            ops.push(Op::SetMeta(crate::plan::SetMeta {
                path: PathBuf::from("/").join(&rel),
                mode: Some(0o600),
                uid: None,
                gid: None,
                expect: (
                    0o644,
                    nix::unistd::getuid().as_raw(),
                    nix::unistd::getgid().as_raw(),
                ),
            }));
        }
        let plan = Plan {
            changes: vec![Change {
                ops,
                handlers: Vec::new(),
                ..plan.changes[0].clone()
            }],
            ..plan
        };
        // After the snapshot and before the first write, a path of the second
        // batch becomes a symlink: its change is refused.
        let bad = root.join(format!(
            "srv/d{}/f{}",
            (snapshot::BATCH + 10) / 500,
            snapshot::BATCH + 10
        ));
        let arm = |_: &str| {
            std::fs::remove_file(&bad).unwrap();
            std::os::unix::fs::symlink(t.path().join("elsewhere"), &bad).unwrap();
            Ok(())
        };
        let report = apply_armed(&host, &state, &plan, &|| Ok(empty(&plan)), &arm).unwrap();
        let why = report.message.unwrap_or_default();
        assert!(
            why.contains(&format!("f{}: is a symlink", snapshot::BATCH + 10)),
            "{why}"
        );
        // The planted symlink itself is never followed, not even to restore it.
        assert_eq!(report.outcome, Outcome::RollbackFailed);
        assert_eq!(
            report.restore_problems.len(),
            1,
            "{:?}",
            report.restore_problems
        );
        assert!(
            report.restore_problems[0]
                .contains(&format!("f{}: not the file", snapshot::BATCH + 10)),
            "{:?}",
            report.restore_problems
        );
        for i in (0..n).step_by(97).chain([n - 1]) {
            let p = root.join(format!("srv/d{}/f{i}", i / 500));
            if p == bad {
                continue;
            }
            assert_eq!(
                std::fs::symlink_metadata(&p).unwrap().mode() & 0o7777,
                0o644,
                "{}",
                p.display()
            );
        }
    }

    #[test]
    fn a_mode_that_moved_since_the_plan_changes_nothing() {
        let runner = Arc::new(RecordingRunner::new());
        let (_t, host, state, mut plan) = setup(runner);
        let path = mode_moved_after_plan(&host, &mut plan);
        let err = apply(&host, &state, &plan, &|| Ok(empty(&plan))).unwrap_err();
        assert!(matches!(err, TxnError::Moved { .. }), "{err}");
        assert!(state.txn_ids().unwrap().is_empty());
        assert!(state.journal().unwrap().is_none());
        assert_eq!(host.lstat(&path).unwrap().unwrap().mode, 0o640);
    }

    #[test]
    fn metadata_that_moved_under_the_lock_is_caught_by_the_snapshot_and_leaves_nothing() {
        let runner = Arc::new(RecordingRunner::new());
        let (_t, host, state, mut plan) = setup(runner);
        // Changed after the plan (and its first check), before the snapshot.
        let path = mode_moved_after_plan(&host, &mut plan);
        let (touches, touch_of) = snapshot::touches_indexed(plan.ops());
        let err = begin(
            &host,
            &state,
            Begin {
                kind: TxnKind::Apply,
                playbook: "t",
                restores: None,
                touches: &touches,
                checks: Some((&plan, &touch_of)),
                changes: 1,
                rules: Vec::new(),
                handlers: Vec::new(),
                locks: Vec::new(),
            },
        )
        .err()
        .unwrap();
        assert!(matches!(err, TxnError::Moved { .. }), "{err}");
        assert!(state.txn_ids().unwrap().is_empty());
        assert!(state.journal().unwrap().is_none());
        assert_eq!(host.lstat(&path).unwrap().unwrap().mode, 0o640);
    }

    #[test]
    fn a_precondition_that_moved_changes_nothing() {
        let runner = Arc::new(RecordingRunner::new());
        let (_t, host, state, plan) = setup(runner);
        std::fs::write(host.path(Path::new("/etc/app.conf")), "edited meanwhile\n").unwrap();
        let err = apply(&host, &state, &plan, &|| Ok(empty(&plan))).unwrap_err();
        assert!(matches!(err, TxnError::Moved { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(host.path(Path::new("/etc/app.conf"))).unwrap(),
            "edited meanwhile\n"
        );
        assert!(state.txn_ids().unwrap().is_empty());
    }
}
