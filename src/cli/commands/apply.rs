//! `harden apply`: plan (or take a saved plan file), judge the whole plan
//! (`--strict`, a pending confirmation, the anti-lockout guards), leave out the
//! rules whose candidates a validator rejects, ask, and apply the rest as one
//! transaction (snapshot, validate, write, reload, verify).

use std::path::Path;

use super::{confirm, request};
use crate::cli::args::PlanArgs;
use crate::cli::output;
use crate::cli::record::Recorder;
use crate::engine::render;
use crate::engine::state::Outcome;
use crate::error::{Error, exit};
use crate::plan::Plan;
use crate::session::{Session, Target};

/// How `apply` was asked to run.
pub struct Opts<'a> {
    pub plan_file: Option<&'a Path>,
    pub yes: bool,
    pub strict: bool,
    pub accept_lockout: bool,
    pub confirm_within: Option<u64>,
}

pub fn run(
    target: &Target,
    args: &PlanArgs,
    opts: &Opts,
    rec: &mut Recorder,
) -> Result<i32, Error> {
    let (session, mut whole) = match opts.plan_file {
        Some(path) => {
            let (session, _, planned) = Session::plan_saved(target, path)?;
            (session, planned)
        }
        None => Session::plan(target, &request(args)?)?,
    };
    rec.plan = Some(for_report(&mut whole.plan));
    let state = session.state()?;
    // What stops the whole apply is judged on the whole plan, before any
    // validator runs: a pending confirmation and `--strict`. A rule the
    // anti-lockout guards refuse fails alone, in isolation.
    let early = |e: Error| -> Result<i32, Error> {
        output::plan(&whole.plan, args.format)?;
        output::rule_errors(&whole.plan);
        Err(e)
    };
    if opts.strict && !whole.plan.errors.is_empty() {
        return early(strict_refusal(&whole.plan));
    }
    if let Err(e) = confirm::check_none_pending(&state) {
        return early(e);
    }
    let mut planned = session.isolate(whole, opts.accept_lockout)?;
    rec.plan = Some(for_report(&mut planned.plan));
    let plan = &planned.plan;
    output::plan(plan, args.format)?;
    if opts.strict && !plan.errors.is_empty() {
        output::rule_errors(plan);
        return Err(strict_refusal(plan));
    }
    let partial = !plan.errors.is_empty();
    if plan.changes.is_empty() {
        output::rule_errors(plan);
        if let Some(j) = state.journal()? {
            return Err(Error::Refused(format!(
                "transaction {} was interrupted; run `harden rollback` to restore its snapshot first",
                j.txn
            )));
        }
        if partial {
            rec.result = "partial";
            return Ok(exit::PARTIAL);
        }
        return Ok(exit::OK);
    }
    // Planned without the refused rules, or the risk accepted: said loudly.
    guard(plan, opts.accept_lockout)?;
    if !opts.yes {
        output::ask(
            &format!(
                "Apply {} change(s) to {}?",
                plan.changes.len(),
                session.host.root.display()
            ),
            "apply",
        )?;
    }
    let report = match opts.confirm_within {
        None => session.apply(&state, &planned)?,
        Some(secs) => {
            let arm = |txn: &str| Ok(confirm::arm_watchdog(&session.host, &state, txn, secs)?);
            session.apply_armed(&state, &planned, &arm)?
        }
    };
    output::report(&report, "apply");
    output::rule_errors(plan);
    rec.record(&report);
    if partial && report.outcome == Outcome::Committed {
        rec.result = "partial";
    }
    if let Some(secs) = opts.confirm_within {
        confirm::start_window(&state, &report, secs)?;
    }
    Ok(exit::of_apply(report.outcome, partial))
}

/// A copy of `plan` for the run report, which reads its rules and changes (and
/// audit drift) but never their ops: those stay out of the copy (a recursive rule has one per
/// path, and copying them would double the memory of a large apply).
fn for_report(plan: &mut Plan) -> Plan {
    let ops: Vec<_> = plan
        .changes
        .iter_mut()
        .chain(&mut plan.audit)
        .map(|c| std::mem::take(&mut c.ops))
        .collect();
    let copy = plan.clone();
    for (c, ops) in plan.changes.iter_mut().chain(&mut plan.audit).zip(ops) {
        c.ops = ops;
    }
    copy
}

/// `--strict`: any failed rule refuses the whole apply.
fn strict_refusal(plan: &Plan) -> Error {
    let ids: Vec<String> = plan
        .errors
        .iter()
        .map(|e| render::esc(&e.rule_id).into_owned())
        .collect();
    Error::Refused(format!(
        "--strict: {} rule(s) failed ({}), nothing was changed",
        ids.len(),
        ids.join(", ")
    ))
}

/// The anti-lockout guards' verdict on the plan to apply: what they refuse
/// was left out unless the operator accepts the risk, then a warning.
fn guard(plan: &Plan, accept: bool) -> Result<(), Error> {
    let refusals = Session::lockout_guard(plan, accept)?;
    if !refusals.is_empty() {
        output::say(&format!(
            "WARNING: applying despite the anti-lockout guard (--i-accept-lockout-risk):\n  {}",
            refusals.join("\n  ")
        ));
    }
    Ok(())
}
