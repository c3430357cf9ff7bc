//! One file per command. Each turns its parsed flags into a session
//! [`Target`] and [`Request`], asks the [`crate::session`] for the host, the
//! state directory and the plan, prints through [`super::output`] and returns
//! the exit code.

mod apply;
mod check;
mod completions;
mod confirm;
mod history;
mod modules;
mod plan;
mod rollback;
mod schema;
mod timer;

use super::args::{self, Cli, Command, PlanArgs};
use super::record::recorded;
use crate::error::Error;
use crate::playbook;
use crate::session::{Request, Target};

/// Runs a parsed command line.
///
/// # Errors
/// Anything that stops the command before a transaction reports its own outcome.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let quiet = cli.quiet;
    let target = target(&cli.target);
    match cli.command {
        Command::Plan {
            args,
            out,
            detailed_exitcode,
        } => plan::run(&target, &args, out.as_deref(), detailed_exitcode),
        Command::Check { args, run } => recorded("check", &target, &run, quiet, |rec| {
            check::run(&target, &args, rec)
        }),
        Command::Apply {
            plan_file,
            args,
            yes,
            strict,
            i_accept_lockout_risk,
            confirm_within,
            run,
        } => recorded("apply", &target, &run, quiet, |rec| {
            let opts = apply::Opts {
                plan_file: plan_file.as_deref(),
                yes,
                strict,
                accept_lockout: i_accept_lockout_risk,
                confirm_within,
            };
            apply::run(&target, &args, &opts, rec)
        }),
        Command::Confirm => confirm::run(&target),
        Command::Watchdog { txn } => confirm::watchdog(&target, &txn),
        Command::Rollback {
            txn, dry_run: true, ..
        } => rollback::preview(&target, txn.as_deref()),
        Command::Rollback { txn, yes, run, .. } => {
            recorded("rollback", &target, &run, quiet, |rec| {
                rollback::run(&target, txn.as_deref(), yes, rec)
            })
        }
        Command::History { format, runs: true } => history::runs(&target, format),
        Command::History {
            format,
            runs: false,
        } => history::transactions(&target, format),
        Command::Timer { action } => timer::run(&target, action),
        Command::Completions { shell } => Ok(completions::script(shell)),
        Command::Man => completions::man(),
        Command::Modules { markdown } => modules::run(markdown),
        Command::Schema => Ok(schema::run()),
    }
}

/// Where to act, from the global flags.
fn target(t: &args::Target) -> Target {
    Target {
        root: t.root.clone(),
        state_dir: t.state_dir.clone(),
    }
}

/// What to plan, from the plan flags: `-e KEY=VALUE` is parsed here, once, into
/// typed variables.
fn request(args: &PlanArgs) -> Result<Request, Error> {
    Ok(Request {
        playbooks: args.playbooks.clone(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        vars: playbook::parse_overrides(&args.extra_vars)?,
        probes: false,
    })
}
