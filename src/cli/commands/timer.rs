//! `harden timer install|remove|status`: the command side of [`crate::timer`].
//! Renders and checks the units, runs the install or removal plan through the
//! session's transaction, then enables or disables the timer through
//! [`crate::host::service`], saying what it did and what it skipped.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::args::{Format, TimerAction, TimerMode};
use crate::cli::output::{self, ask, say};
use crate::engine::apply::Replan;
use crate::engine::state::Outcome;
use crate::error::{Error, exit};
use crate::host::Host;
use crate::host::service;
use crate::plan::Plan;
use crate::session::{Session, Target};
use crate::timer::{self as units, Install, Mode, SERVICE, TIMER};

/// Runs one `timer` action.
///
/// # Errors
/// Bad arguments, invalid units, or a transaction that could not start.
pub fn run(target: &Target, action: TimerAction) -> Result<i32, Error> {
    let session = Session::open(target)?;
    let host = &session.host;
    match action {
        TimerAction::Install {
            every,
            mode,
            playbooks,
            randomized_delay,
            binary,
            metrics_file,
            pull_git,
            yes,
        } => {
            let binary = match binary {
                Some(b) => b,
                None => std::env::current_exe()
                    .and_then(std::fs::canonicalize)
                    .map_err(|source| Error::Io {
                        path: PathBuf::from("/proc/self/exe"),
                        source,
                    })?,
            };
            units::check_binary(host, &binary)?;
            let install = Install {
                every,
                mode: match mode {
                    TimerMode::Check => Mode::Check,
                    TimerMode::Apply => Mode::Apply,
                },
                playbooks: units::resolve_playbooks(host, &playbooks)?,
                randomized_delay,
                binary,
                metrics_file,
                pull: units::resolve_pull(host, pull_git.as_deref())?,
            };
            install_units(&session, &install, yes)
        }
        TimerAction::Remove { yes } => remove_units(&session, yes),
        TimerAction::Status => status(&session),
    }
}

/// Prints the plan and, when it changes something, asks as `apply` does
/// (`--yes` skips it; without a terminal it is needed).
fn review(host: &Host, plan: &Plan, yes: bool, verb: &str) -> Result<(), Error> {
    output::plan(plan, Format::Human)?;
    if plan.changes.is_empty() || yes {
        return Ok(());
    }
    ask(
        &format!(
            "{verb} the harden timer ({} change(s) to {})?",
            plan.changes.len(),
            host.root.display()
        ),
        &format!("{} the timer", verb.to_lowercase()),
    )
}

/// Runs the reviewed plan as one transaction: `None` when it committed (or
/// had nothing to do), else the exit code of its failure.
fn transact(
    session: &Session,
    plan: &Plan,
    replan: &Replan,
    what: &str,
) -> Result<Option<i32>, Error> {
    if plan.changes.is_empty() {
        return Ok(None);
    }
    let state = session.state()?;
    let report = session.transact(&state, plan, replan)?;
    output::report(&report, what);
    Ok((report.outcome != Outcome::Committed).then(|| exit::of_apply(report.outcome, false)))
}

fn install_units(session: &Session, install: &Install, yes: bool) -> Result<i32, Error> {
    let host = &session.host;
    install.check(host)?;
    let service_text = install.service_unit()?;
    let timer_text = install.timer_unit()?;
    // systemd-analyze checks ExecStart= against this machine's files; under
    // another root the binary is the root's (checked there by `check_binary`),
    // so the units are verified with this binary standing in for it.
    let mut probe = install.clone();
    if let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) {
        probe.binary = me;
    }
    if units::verify(host, &probe.service_unit()?, &timer_text)? {
        say("units checked: known keys, `systemd-analyze verify` clean");
    } else {
        say("units checked: known keys only (systemd-analyze is not installed here)");
    }
    let plan = units::plan_install(host, &service_text, &timer_text)?;
    let replan = || Ok(units::plan_install(host, &service_text, &timer_text)?);
    if plan.changes.is_empty() {
        say("timer units already installed as asked; nothing to change");
    }
    review(host, &plan, yes, "Install")?;
    if let Some(code) = transact(session, &plan, &replan, "timer install")? {
        return Ok(code);
    }
    Ok(report_service(host, TIMER, true))
}

fn remove_units(session: &Session, yes: bool) -> Result<i32, Error> {
    let host = &session.host;
    let plan = units::plan_remove(host)?;
    if plan.changes.is_empty() {
        say("no timer units installed; nothing to remove");
        return Ok(exit::OK);
    }
    review(host, &plan, yes, "Remove")?;
    // Stop it first, so no run starts while its units go away.
    let code = report_service(host, TIMER, false);
    if code != exit::OK {
        return Ok(code);
    }
    let replan = || Ok(units::plan_remove(host)?);
    Ok(transact(session, &plan, &replan, "timer remove")?.unwrap_or(exit::OK))
}

fn report_service(host: &Host, unit: &str, on: bool) -> i32 {
    let verb = if on { "enable" } else { "disable" };
    match service::enable(host, unit, on) {
        service::Outcome::Done => {
            say(&format!("systemctl {verb} --now {unit}: done"));
            exit::OK
        }
        service::Outcome::Skipped(why) => {
            say(&format!(
                "{why}; run `systemctl {verb} --now {unit}` on the host once systemd runs there"
            ));
            exit::OK
        }
        service::Outcome::Failed(why) => {
            say(&format!("systemctl {verb} --now {unit}: FAILED: {why}"));
            exit::ERROR
        }
    }
}

fn status(session: &Session) -> Result<i32, Error> {
    let s = units::status(&session.host)?;
    let mut out = anstream::stdout();
    let mut lines = vec![format!("root: {}", s.root.display())];
    let state = |present: bool| if present { "installed" } else { "absent" };
    lines.push(format!("{SERVICE}: {}", state(s.service.is_some())));
    lines.push(format!("{TIMER}: {}", state(s.timer.is_some())));
    if let Some(e) = &s.exec_start {
        lines.push(format!("runs: {e}"));
    }
    if !s.schedule.is_empty() {
        lines.push(format!("schedule: {}", s.schedule.join(" ")));
    }
    lines.push(format!(
        "enabled (timers.target.wants link): {}",
        if s.enabled_link { "yes" } else { "no" }
    ));
    let last = session
        .state()
        .ok()
        .and_then(|st| crate::report::load_all(&st).pop());
    lines.push(match last {
        Some(r) => format!("last run: {}", r.summary()),
        None => "last run: none recorded".into(),
    });
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    Ok(if s.service.is_some() && s.timer.is_some() {
        exit::OK
    } else {
        exit::ERROR
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::host::facts::Init;
    use crate::host::runner::RecordingRunner;

    fn host(init: Init, runner: Arc<RecordingRunner>) -> Host {
        let mut h = Host::new(PathBuf::from("/nonexistent-root"), runner);
        h.facts.init = init;
        h
    }

    #[test]
    fn the_timer_is_enabled_only_where_systemd_runs() {
        let r = Arc::new(RecordingRunner::new());
        assert_eq!(
            report_service(&host(Init::Systemd, r.clone()), TIMER, true),
            exit::OK
        );
        assert_eq!(
            report_service(&host(Init::Systemd, r.clone()), TIMER, false),
            exit::OK
        );
        assert_eq!(
            r.calls(),
            [
                ["systemctl", "enable", "--now", "harden.timer"],
                ["systemctl", "disable", "--now", "harden.timer"]
            ]
        );
        let none = Arc::new(RecordingRunner::new());
        assert_eq!(
            report_service(&host(Init::None, none.clone()), TIMER, true),
            exit::OK
        );
        assert!(none.calls().is_empty());
        let failing = Arc::new(RecordingRunner::failing_on("enable --now"));
        assert_eq!(
            report_service(&host(Init::Systemd, failing), TIMER, true),
            exit::ERROR
        );
    }
}
