//! The session: the one application layer behind every front door (the command
//! line, the Ansible module, the timer command). It turns a [`Target`] (where to
//! act) and a [`Request`] (what to plan) into a [`Host`], a [`StateDir`] and a
//! [`Planned`] plan, and runs the transactions (apply, rollback) on them.
//!
//! It prints nothing and knows no front door: clap's types stay in `cli::args`,
//! Ansible's JSON in `ansible`. Front doors build a `Target` and a `Request` from
//! what their user gave (typed: `-e` values arrive here as [`VarValue`]s, never as
//! `KEY=VALUE` strings to parse again) and decide what to print or return.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::apply::{self, HistoryLine, Replan, Report, RollbackTarget};
use crate::engine::lock_intent::Swept;
use crate::engine::state::{Journal, StateDir};
use crate::engine::step::Foreign;
use crate::engine::{self, Filter, isolate};
use crate::error::Error;
use crate::host::Host;
use crate::host::runner::SystemRunner;
use crate::plan::{Plan, VarValue};
use crate::planfile::{self, Identity};
use crate::playbook::{self, Playbook, Source};

/// Where to act: the root to harden and the state directory.
#[derive(Debug, Clone)]
pub struct Target {
    /// The root of the system (an offline image or a temp tree); `/` is the
    /// running system.
    pub root: PathBuf,
    /// Lock, journal, snapshots and reports [default: ROOT/var/lib/harden].
    pub state_dir: Option<PathBuf>,
}

impl Default for Target {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            state_dir: None,
        }
    }
}

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Playbook files or embedded names, in order; none means the embedded
    /// baseline.
    pub playbooks: Vec<String>,
    /// Only tasks with one of these tags (or rule ids).
    pub tags: Vec<String>,
    /// Skip tasks with one of these tags (or rule ids).
    pub skip_tags: Vec<String>,
    /// Variables that override the playbooks' `vars`.
    pub vars: BTreeMap<String, VarValue>,
    /// Evaluate `probe:` rules (`check` does; plan and apply skip them).
    pub probes: bool,
}

impl Request {
    /// The playbooks to load: the request's, or the embedded baseline.
    fn playbooks(&self) -> Vec<String> {
        if self.playbooks.is_empty() {
            vec!["baseline".to_string()]
        } else {
            self.playbooks.clone()
        }
    }

    /// The request's tag filter.
    #[must_use]
    pub fn filter(&self) -> Filter {
        Filter {
            tags: self.tags.iter().cloned().collect::<BTreeSet<_>>(),
            skip_tags: self.skip_tags.iter().cloned().collect::<BTreeSet<_>>(),
            exclude: BTreeMap::new(),
            probes: self.probes,
        }
    }

    /// Loads the playbooks with the request's variables.
    pub fn load(&self) -> Result<Playbook, Error> {
        let sources: Vec<Source> = self
            .playbooks()
            .iter()
            .map(|p| Source::resolve(p))
            .collect();
        Ok(playbook::load(&sources, &self.vars)?)
    }

    /// Where a plan of this request comes from, as a plan file records it
    /// (the variables as `KEY=VALUE`, the plan file's own format).
    pub fn identity(&self) -> Result<Identity, Error> {
        let vars: Vec<String> = self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(planfile::identity(
            &self.playbooks(),
            &self.tags,
            &self.skip_tags,
            &vars,
        )?)
    }

    /// The request a plan file was made for.
    fn from_identity(id: &Identity) -> Result<Self, Error> {
        Ok(Self {
            playbooks: id.playbooks.clone(),
            tags: id.tags.clone(),
            skip_tags: id.skip_tags.clone(),
            vars: playbook::parse_overrides(&id.extra_vars)?,
            probes: false,
        })
    }
}

/// A plan with what made it: the playbook and the filter that plan it again.
#[derive(Debug)]
pub struct Planned {
    pub playbook: Playbook,
    pub filter: Filter,
    pub plan: Plan,
}

/// An opened target: the host and where its state directory is.
#[derive(Debug)]
pub struct Session {
    pub host: Host,
    target: Target,
}

impl Session {
    /// Opens the target's root (it must be a directory).
    pub fn open(target: &Target) -> Result<Self, Error> {
        let root = std::fs::canonicalize(&target.root).map_err(|source| Error::Io {
            path: target.root.clone(),
            source,
        })?;
        if !root.is_dir() {
            return Err(Error::Refused(format!(
                "--root {}: not a directory",
                root.display()
            )));
        }
        Ok(Self {
            host: Host::new(root, Arc::new(SystemRunner)),
            target: target.clone(),
        })
    }

    /// Loads the request's playbooks, checks its tags, opens the target and
    /// plans. The playbooks are read first: a bad playbook is reported before a
    /// bad root.
    pub fn plan(target: &Target, request: &Request) -> Result<(Self, Planned), Error> {
        let playbook = request.load()?;
        let filter = request.filter();
        playbook::check_selection(&playbook, &filter.tags, &filter.skip_tags)?;
        let session = Self::open(target)?;
        let plan = engine::plan(&session.host, &playbook, &filter)?;
        Ok((
            session,
            Planned {
                playbook,
                filter,
                plan,
            },
        ))
    }

    /// Plans a saved plan file again, from its own playbooks and filters, and
    /// refuses unless the result is the saved plan exactly. Returns the request
    /// it was made for with the session and the plan.
    pub fn plan_saved(target: &Target, path: &Path) -> Result<(Self, Request, Planned), Error> {
        let file = planfile::load(path)?;
        let request = Request::from_identity(&file.body.identity)?;
        let (session, planned) = Self::plan(target, &request)?;
        planfile::check_current(
            path,
            &file,
            &request.identity()?,
            &session.host.root,
            &planned.plan,
        )?;
        Ok((session, request, planned))
    }

    /// The anti-lockout guards' verdict on `plan`, the same for every front
    /// door: refused unless the operator accepts the risk; accepted, the
    /// refusals (`RULE: why`) for the front door to warn with.
    ///
    /// # Errors
    /// [`Error::Refused`] naming every refusal, when the risk is not accepted.
    pub fn lockout_guard(plan: &Plan, accept: bool) -> Result<Vec<String>, Error> {
        let refusals: Vec<String> = plan
            .refusals()
            .map(|n| format!("{}: {}", n.rule_id, n.message))
            .collect();
        if refusals.is_empty() || accept {
            return Ok(refusals);
        }
        Err(Error::Refused(format!(
            "the anti-lockout guard refuses this plan, nothing was changed:\n  {}\n(fix the playbook or the host, or accept the risk: --i-accept-lockout-risk, i_accept_lockout_risk in Ansible)",
            refusals.join("\n  ")
        )))
    }

    /// The transactions of the state directory, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryLine>, Error> {
        Ok(apply::history(&self.state()?)?)
    }

    /// The state directory (lock, journal, snapshots, reports), checked before
    /// it is trusted. The running system's own `/var/lib/harden` (root-owned,
    /// checked) is adopted even without the marker, as older versions made it;
    /// an image's is not.
    pub fn state(&self) -> Result<StateDir, Error> {
        let path = match &self.target.state_dir {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => std::env::current_dir()
                .map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?
                .join(p),
            None => self.host.path(Path::new("/var/lib/harden")),
        };
        let state = StateDir::new(path)?;
        engine::trust::check(
            &state.path,
            self.target.state_dir.is_some() || self.host.is_live(),
        )?;
        Ok(state)
    }

    /// The journal of a transaction that was interrupted (no run holds the
    /// lock), if any.
    #[must_use]
    pub fn interrupted(&self) -> Option<Journal> {
        let state = self.state().ok()?;
        match state.journal() {
            Ok(Some(j)) if !state.is_locked() => Some(j),
            _ => None,
        }
    }

    /// What `apply` executes of `planned`: the rules whose candidates a
    /// validator rejects, and those the anti-lockout guards refuse (unless
    /// `accept_lockout`), become error entries and the rest is planned again
    /// without them.
    pub fn isolate(&self, planned: Planned, accept_lockout: bool) -> Result<Planned, Error> {
        let Planned {
            playbook,
            filter,
            plan,
        } = planned;
        let (plan, filter) = if plan.changes.is_empty() {
            let filter = isolate::excluding_failed(&filter, &plan);
            (plan, filter)
        } else {
            isolate::without_rejected(&self.host, &playbook, &filter, plan, accept_lockout)?
        };
        Ok(Planned {
            playbook,
            filter,
            plan,
        })
    }

    /// `planned` without the rules the anti-lockout guards refuse (unless
    /// `accept_lockout`): they become error entries, as at apply, without
    /// running any validator (a dry run's view of what apply would leave out).
    pub fn without_refused(
        &self,
        planned: Planned,
        accept_lockout: bool,
    ) -> Result<Planned, Error> {
        let Planned {
            playbook,
            filter,
            plan,
        } = planned;
        let (plan, filter) =
            isolate::without_refused(&self.host, &playbook, filter, plan, accept_lockout)?;
        Ok(Planned {
            playbook,
            filter,
            plan,
        })
    }

    /// Applies `planned` as one transaction, verified by planning it again.
    pub fn apply(&self, state: &StateDir, planned: &Planned) -> Result<Report, Error> {
        let replan = || self.replan(planned);
        Ok(apply::apply(&self.host, state, &planned.plan, &replan)?)
    }

    /// As [`Self::apply`]; `arm` runs once the journal is on disk (the confirm
    /// watchdog of `apply --confirm-within`).
    pub fn apply_armed(
        &self,
        state: &StateDir,
        planned: &Planned,
        arm: &dyn Fn(&str) -> Result<(), Foreign>,
    ) -> Result<Report, Error> {
        let replan = || self.replan(planned);
        Ok(apply::apply_armed(
            &self.host,
            state,
            &planned.plan,
            &replan,
            arm,
        )?)
    }

    /// Plans `planned` again, as the transaction verifies what it applied.
    fn replan(&self, planned: &Planned) -> Result<Plan, Foreign> {
        Ok(engine::plan(
            &self.host,
            &planned.playbook,
            &planned.filter,
        )?)
    }

    /// Applies a plan that no playbook made (the timer's units), verified by
    /// `replan`.
    pub fn transact(
        &self,
        state: &StateDir,
        plan: &Plan,
        replan: &Replan,
    ) -> Result<Report, Error> {
        Ok(apply::apply(&self.host, state, plan, replan)?)
    }

    /// The transaction a rollback of `txn` (the last one by default) restores.
    pub fn rollback_target(
        &self,
        state: &StateDir,
        txn: Option<&str>,
    ) -> Result<RollbackTarget, Error> {
        Ok(apply::rollback_preview(&self.host, state, txn)?)
    }

    /// Removes the locks of runs that died holding them.
    pub fn sweep_stale_locks(&self, state: &StateDir) -> Result<Swept, Error> {
        Ok(apply::sweep_stale_locks(&self.host, state)?)
    }

    /// Restores the snapshot of `txn` (the last one by default). `None` when
    /// there was nothing to roll back but stale locks were swept.
    pub fn rollback(
        &self,
        state: &StateDir,
        txn: Option<&str>,
        swept: &Swept,
    ) -> Result<Option<Report>, Error> {
        match apply::rollback(&self.host, state, txn) {
            Err(apply::TxnError::NothingToRollBack(_)) if !swept.removed.is_empty() => Ok(None),
            r => Ok(Some(r?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(playbook: &Path) -> Request {
        Request {
            playbooks: vec![playbook.display().to_string()],
            ..Request::default()
        }
    }

    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
        let pb = t.path().join("pb.yml");
        std::fs::write(
            &pb,
            "vars: {motd: m}\ntasks:\n  - {name: motd, id: motd, file: {path: /etc/motd, content: \"{{ motd }}\\n\"}}\n",
        )
        .unwrap();
        (t, root, pb)
    }

    #[test]
    fn a_bad_playbook_is_reported_before_a_bad_root() {
        let t = tempfile::tempdir().unwrap();
        let target = Target {
            root: t.path().join("no-such-root"),
            state_dir: None,
        };
        let e = Session::plan(&target, &request(&t.path().join("no-such.yml"))).unwrap_err();
        assert!(matches!(e, Error::Playbook(_)), "{e}");
        let (_t, _, pb) = tree();
        let e = Session::plan(&target, &request(&pb)).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }

    #[test]
    fn a_root_must_be_a_directory() {
        let (_t, root, _) = tree();
        let target = Target {
            root: root.join("etc/os-release"),
            state_dir: None,
        };
        let e = Session::open(&target).unwrap_err();
        assert!(e.to_string().ends_with("not a directory"), "{e}");
    }

    #[test]
    fn typed_vars_plan_without_being_parsed_again() {
        let (_t, root, pb) = tree();
        let target = Target {
            root: root.clone(),
            state_dir: None,
        };
        let mut req = request(&pb);
        // A value holding `=` stays one value; a typed value keeps its text.
        for (value, text) in [
            (VarValue::Str("a=b".into()), "a=b\n"),
            (VarValue::Int(42), "42\n"),
            (VarValue::Bool(true), "true\n"),
        ] {
            req.vars = BTreeMap::from([("motd".to_string(), value)]);
            let (session, planned) = Session::plan(&target, &req).unwrap();
            let diff = planned.plan.changes[0].diff.as_ref().unwrap();
            assert_eq!(diff.after, text);
            assert_eq!(
                session.state().unwrap().path,
                std::fs::canonicalize(&root).unwrap().join("var/lib/harden")
            );
        }
    }

    #[test]
    fn a_plan_file_identity_gives_back_the_request() {
        let (_t, _, pb) = tree();
        let mut req = request(&pb);
        req.tags = vec!["motd".into()];
        req.vars = BTreeMap::from([
            ("motd".to_string(), VarValue::Str("a=b".into())),
            ("other".to_string(), VarValue::Str(String::new())),
        ]);
        let id = req.identity().unwrap();
        assert_eq!(id.extra_vars, ["motd=a=b", "other="]);
        let again = Request::from_identity(&id).unwrap();
        assert_eq!(again.vars, req.vars);
        assert_eq!(again.tags, req.tags);
        assert_eq!(again.identity().unwrap(), id);
    }
}
