//! The command line: flags defined once (clap derive), parsed into a run, executed
//! through the library, and mapped to the documented exit codes
//! ([`crate::error::exit`]). The plan goes to stdout, logs to stderr.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::field::MakeExt;

use crate::engine::apply::{self, Report};
use crate::engine::confirm;
use crate::engine::state::{Outcome, StateDir};
use crate::engine::{self, Filter, render};
use crate::error::{Error, exit};
use crate::host::Host;
use crate::host::runner::SystemRunner;
use crate::plan::Plan;
use crate::playbook::{self, Playbook, Source};

/// Idempotent host hardening: plan, apply with snapshots, roll back.
#[derive(Debug, Parser)]
#[command(name = "harden", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Where to act: accepted before or after any subcommand.
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of plans and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Where to act (global options: before or after any subcommand).
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Root of the system to harden (an offline image or a temp tree); `/` is the
    /// running system.
    #[arg(long, default_value = "/", value_name = "DIR", global = true)]
    pub root: PathBuf,
    /// State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden].
    #[arg(long, value_name = "DIR", global = true)]
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
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Playbook file, or the name of an embedded one (baseline); repeatable.
    /// Default: the embedded baseline.
    #[arg(short, long = "playbook", value_name = "PLAYBOOK")]
    pub playbooks: Vec<String>,
    /// The global `--root` and `--state-dir`, filled in by [`run`].
    #[arg(skip)]
    pub target: Target,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Only tasks with one of these tags (or rule ids).
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub tags: Vec<String>,
    /// Skip tasks with one of these tags (or rule ids).
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub skip_tags: Vec<String>,
    /// Set a playbook variable (overrides the playbook's `vars`).
    #[arg(short = 'e', long = "extra-var", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,
}

/// Reports and metrics of a run (`check`, `apply`, `rollback`).
#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// Keep the newest N run reports in STATE/reports (older ones are deleted).
    #[arg(long, value_name = "N", default_value_t = crate::report::DEFAULT_KEEP)]
    pub keep_reports: usize,
    /// Write Prometheus text-format metrics of this run to PATH (atomically), for
    /// `node_exporter`'s textfile collector. A host path, not under --root.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

/// `harden timer` actions.
#[derive(Debug, Subcommand)]
pub enum TimerAction {
    /// Write harden.service and harden.timer under ROOT/etc/systemd/system (one
    /// transaction), then enable the timer where systemd runs.
    Install {
        /// A systemd time span (`1h`, `30min`: every so long after the last run)
        /// or a calendar event (`hourly`, `daily`, `*-*-* 03:00`).
        #[arg(long, default_value = "1h", value_name = "WHEN")]
        every: String,
        /// `check` reports drift only; `apply` converges with every guard on.
        #[arg(long, value_enum, default_value_t = crate::timer::Mode::Check)]
        mode: crate::timer::Mode,
        /// Playbook file (stored as an absolute path) or embedded name; repeatable.
        /// Default: the embedded baseline.
        #[arg(short, long = "playbook", value_name = "PLAYBOOK")]
        playbooks: Vec<String>,
        /// Random delay added to each run (`RandomizedDelaySec`).
        #[arg(long, default_value = "10m", value_name = "SPAN")]
        randomized_delay: String,
        /// The harden binary the service runs, as a path inside the root
        /// [default: this binary; under another --root it must exist there too].
        #[arg(long, value_name = "PATH-IN-ROOT")]
        binary: Option<PathBuf>,
        /// Let each run write Prometheus metrics to PATH.
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
        /// A git checkout (owned by root) holding the playbooks: each run first
        /// pulls it (`git pull --ff-only`); a failed pull still runs harden on the
        /// checkout as it is.
        #[arg(long, value_name = "DIR")]
        pull_git: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// Disable the timer (where systemd runs) and delete both units and the
    /// enable link (one transaction).
    Remove {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// Show the installed units, their schedule and the last run.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what would change. Writes nothing on the host; `-o FILE` writes only
    /// that file.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
        /// Also save the plan, with hashes of everything it observed and the
        /// content to write, to FILE (0600) for `harden apply FILE`.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes (0 when none).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Apply the plan as one transaction (snapshot, validate, write, reload, verify).
    Apply {
        /// A plan saved by `harden plan -o`: apply exactly it, or refuse (exit 1,
        /// nothing changed) if anything it observed changed since.
        #[arg(value_name = "PLANFILE", conflicts_with_all = ["playbooks", "tags", "skip_tags", "extra_vars"])]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        args: PlanArgs,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
        /// All or nothing: when any rule fails (cannot be planned, or a validator
        /// rejects its candidate), apply nothing (exit 1) instead of the rest.
        #[arg(long)]
        strict: bool,
        /// Apply even though an anti-lockout guard refuses the plan. You may lose
        /// access to this host.
        #[arg(long)]
        i_accept_lockout_risk: bool,
        /// Roll the transaction back automatically unless `harden confirm` runs
        /// within SECONDS after it is committed. A watchdog process, detached from
        /// this session, does it: the way to harden a remote host safely.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        confirm_within: Option<u64>,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Keep the transaction applied with `--confirm-within` (stops its watchdog).
    Confirm,
    /// The confirm-or-revert watchdog (started by `apply --confirm-within`).
    #[command(hide = true)]
    Watchdog {
        #[arg(long)]
        txn: String,
    },
    /// Quiet plan for monitoring: exit 0 when compliant, 2 on drift. Writes a run
    /// report in the state directory (and metrics when asked), nothing else.
    Check {
        #[command(flatten)]
        args: PlanArgs,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Restore the snapshot of a transaction (the last one by default). Shows
    /// what it restores and asks first, like `apply`.
    Rollback {
        /// Transaction id (see `harden history`).
        txn: Option<String>,
        /// Print what would be restored (paths, kernel parameters, packages) and
        /// write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(short, long, conflicts_with = "dry_run")]
        yes: bool,
        #[command(flatten)]
        run: RunOpts,
    },
    /// List transactions: time, playbook, number of changes, result. With
    /// `--runs`: the run reports (check, apply, rollback) instead.
    History {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// List run reports (STATE/reports) instead of transactions.
        #[arg(long)]
        runs: bool,
    },
    /// Scheduled convergence: a systemd timer running `harden check` or `apply`.
    Timer {
        #[command(subcommand)]
        action: TimerAction,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// List the module catalogue.
    Modules {
        /// Print the playbook reference (Markdown) generated from the module specs.
        #[arg(long)]
        markdown: bool,
    },
    /// Print the JSON Schema of playbooks.
    Schema,
}

/// Runs the command line of this process and returns the exit code.
#[must_use]
pub fn main() -> i32 {
    // Started by Ansible as a binary module: one argument, a JSON arguments file.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(file) = crate::ansible::args_file(&argv) {
        let result = crate::ansible::run_file(&file);
        println!("{result}");
        return if result["failed"] == serde_json::Value::Bool(true) {
            exit::ERROR
        } else {
            exit::OK
        };
    }
    // Usage errors exit 1 like every error before a change (clap's own default,
    // 2, means "changes" here); --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
        }
    };
    init_logging(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            e.code()
        }
    }
}

fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Log fields may carry names from an image: control characters are escaped
    // like everything else harden prints (a newline cannot forge a log line).
    let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = render::esc(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{}={text}", field.name())
        }
    })
    .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .fmt_fields(fields)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .try_init();
}

/// Runs a parsed command.
///
/// # Errors
/// Anything that stops the command before a transaction reports its own outcome.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let quiet = cli.quiet;
    let target = cli.target;
    let with_target = |mut args: PlanArgs| {
        args.target = target.clone();
        args
    };
    match cli.command {
        Command::Plan {
            args,
            out,
            detailed_exitcode,
        } => cmd_plan(&with_target(args), out.as_deref(), detailed_exitcode),
        Command::Check { args, run } => {
            let args = with_target(args);
            recorded("check", &args.target, &run, quiet, |rec| {
                cmd_check(&args, rec)
            })
        }
        Command::Apply {
            plan_file,
            args,
            yes,
            strict,
            i_accept_lockout_risk,
            confirm_within,
            run,
        } => {
            let args = with_target(args);
            recorded("apply", &args.target, &run, quiet, |rec| {
                let opts = ApplyOpts {
                    plan_file: plan_file.as_deref(),
                    yes,
                    strict,
                    accept_lockout: i_accept_lockout_risk,
                    confirm_within,
                };
                cmd_apply(&args, &opts, rec)
            })
        }
        Command::Confirm => cmd_confirm(&target),
        Command::Watchdog { txn } => cmd_watchdog(&target, &txn),
        Command::Rollback {
            txn, dry_run: true, ..
        } => cmd_rollback_preview(&target, txn.as_deref()),
        Command::Rollback { txn, yes, run, .. } => {
            recorded("rollback", &target, &run, quiet, |rec| {
                cmd_rollback(&target, txn.as_deref(), yes, rec)
            })
        }
        Command::History { format, runs } => {
            if runs {
                cmd_runs(&target, format)
            } else {
                cmd_history(&target, format)
            }
        }
        Command::Timer { action } => crate::timer::cli::run(&target, action),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "harden", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<stdout>"),
                    source,
                })?;
            Ok(exit::OK)
        }
        Command::Modules { markdown: true } => {
            print!("{}", crate::modules::reference()?);
            Ok(exit::OK)
        }
        Command::Modules { markdown: false } => {
            let cat = crate::modules::catalogue()?;
            let width = cat.iter().map(|s| s.name.len()).max().unwrap_or(0);
            for s in cat {
                println!("{:<width$} {}", s.name, s.description);
            }
            Ok(exit::OK)
        }
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&playbook::schema::generate()).unwrap_or_default()
            );
            Ok(exit::OK)
        }
    }
}

fn cmd_plan(args: &PlanArgs, out: Option<&Path>, detailed_exitcode: bool) -> Result<i32, Error> {
    let (host, _, plan) = prepare(args)?;
    print_plan(&plan, args.format)?;
    if let Some(out) = out {
        crate::planfile::save(out, identity(args)?, &plan)?;
        let _ = writeln!(
            anstream::stderr(),
            "harden: plan saved to {} (0600: it holds the content to write); apply it with `harden apply {}`",
            out.display(),
            out.display()
        );
    }
    warn_interrupted(&host, &args.target);
    print_rule_errors(&plan);
    Ok(if !plan.errors.is_empty() {
        exit::ERROR
    } else if detailed_exitcode && !plan.changes.is_empty() {
        exit::CHANGED
    } else {
        exit::OK
    })
}

/// One line on stderr per rule that failed, with its id and why.
pub(crate) fn print_rule_errors(plan: &Plan) {
    let mut err = anstream::stderr();
    for e in &plan.errors {
        let _ = writeln!(
            err,
            "harden: error: rule {}: {}",
            render::esc(&e.rule_id),
            render::esc_text(&e.message)
        );
    }
}

fn cmd_check(args: &PlanArgs, rec: &mut Recorder) -> Result<i32, Error> {
    let (_, _, plan) = prepare_with(args, true)?;
    let compliant = plan.changes.is_empty()
        && plan.audit.is_empty()
        && plan.errors.is_empty()
        && plan.failed_probes().next().is_none();
    rec.result = if !plan.errors.is_empty() {
        "failed"
    } else if compliant {
        "compliant"
    } else {
        "drift"
    };
    rec.plan = Some(plan.clone());
    if args.format == Format::Json {
        print_plan(&plan, args.format)?;
    } else {
        for (c, mark) in plan
            .changes
            .iter()
            .map(|c| (c, ""))
            .chain(plan.audit.iter().map(|c| (c, " (audit only)")))
        {
            println!(
                "drift{mark} [{}] {} {}: {}",
                c.severity.as_str(),
                render::esc(&c.rule_id),
                render::esc(&c.target),
                render::esc(&c.summary)
            );
        }
        for p in plan.failed_probes() {
            println!(
                "probe failed [{}] {}: {}",
                p.severity.as_str(),
                render::esc(&p.rule_id),
                render::esc(&p.message)
            );
        }
        for e in &plan.errors {
            println!(
                "failed {}: {}",
                render::esc(&e.rule_id),
                render::esc(&e.message)
            );
        }
        for k in &plan.skipped {
            println!(
                "skipped {}: {}",
                render::esc(&k.rule_id),
                render::esc(&k.reason)
            );
        }
    }
    print_rule_errors(&plan);
    Ok(if compliant { exit::OK } else { exit::CHANGED })
}

/// `rollback --dry-run`: what would be restored; writes nothing (no run report).
fn cmd_rollback_preview(target: &Target, txn: Option<&str>) -> Result<i32, Error> {
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    let t =
        apply::rollback_preview(&host, &state, txn).map_err(|e| Error::Refused(e.to_string()))?;
    let entries = print_rollback(&host, &t);
    println!(
        "\nRollback would restore {entries} entries of {} change(s); nothing was written.",
        t.manifest.changes
    );
    Ok(exit::OK)
}

/// Prints what rolling back `t` restores; returns the number of entries.
fn print_rollback(host: &Host, t: &apply::RollbackTarget) -> usize {
    let m = &t.manifest;
    println!(
        "harden: rollback of transaction {} ({} of {}, started {}) on {}\n",
        render::esc(&t.id),
        format!("{:?}", m.kind).to_lowercase(),
        render::esc(&m.playbook),
        render::esc(&m.started),
        render::esc(&host.root.display().to_string())
    );
    let lines = crate::engine::snapshot::preview(host, &m.entries);
    for l in &lines {
        println!("  {}", render::esc(l));
    }
    lines.len()
}

fn cmd_rollback(
    target: &Target,
    txn: Option<&str>,
    yes: bool,
    rec: &mut Recorder,
) -> Result<i32, Error> {
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    // Shown (and asked) before anything is written; when there is nothing to
    // roll back, the rollback below says so after sweeping stale locks.
    if let Ok(t) = apply::rollback_preview(&host, &state, txn) {
        print_rollback(&host, &t);
        rec.changes = t.manifest.changes;
        if !yes {
            ask(
                &format!(
                    "Roll back transaction {} ({} change(s)) on {}?",
                    t.id,
                    t.manifest.changes,
                    host.root.display()
                ),
                "roll back",
            )?;
        }
    }
    let swept =
        apply::sweep_stale_locks(&host, &state).map_err(|e| Error::Refused(e.to_string()))?;
    let report = match apply::rollback(&host, &state, txn) {
        Err(apply::TxnError::NothingToRollBack(_)) if !swept.removed.is_empty() => {
            return Ok(exit::OK);
        }
        r => r.map_err(|e| Error::Refused(e.to_string()))?,
    };
    print_report(&report, "rollback");
    confirm::settle(&state);
    rec.record(&report);
    Ok(match report.outcome {
        Outcome::Committed => exit::OK,
        _ => exit::ROLLBACK_FAILED,
    })
}

/// What a run tells its report, filled in as the command goes.
#[derive(Debug, Default)]
pub struct Recorder {
    pub plan: Option<Plan>,
    pub result: &'static str,
    pub txn: Option<String>,
    pub message: Option<String>,
    pub committed: bool,
    /// The changes a rollback undoes (a rollback has no plan to count them in).
    pub changes: usize,
}

impl Recorder {
    fn record(&mut self, report: &Report) {
        self.txn = Some(report.txn.clone());
        self.message.clone_from(&report.message);
        self.committed = report.outcome == Outcome::Committed;
        self.result = match report.outcome {
            Outcome::Committed => "committed",
            Outcome::ValidationFailed => "validation-failed",
            Outcome::RolledBack | Outcome::Reverted => "rolled-back",
            Outcome::RollbackFailed => "rollback-failed",
        };
    }
}

/// Runs a command that leaves a report: appends it to STATE/reports, writes the
/// metrics file when asked, and prints the one-line summary on stderr.
fn recorded(
    command: &str,
    target: &Target,
    opts: &RunOpts,
    quiet: bool,
    f: impl FnOnce(&mut Recorder) -> Result<i32, Error>,
) -> Result<i32, Error> {
    let started = crate::engine::state::now_rfc3339();
    let clock = std::time::Instant::now();
    let mut rec = Recorder::default();
    let result = f(&mut rec);
    let mut r =
        crate::report::RunReport::new(command, &started, clock.elapsed(), rec.plan.as_ref());
    r.exit_code = match &result {
        Ok(c) => *c,
        Err(e) => e.code(),
    };
    r.set_result(match (&result, rec.result) {
        (Err(_), _) => "error",
        (Ok(_), "") => "nothing-to-do",
        (Ok(_), s) => s,
    });
    if let Err(e) = &result {
        rec.message = Some(e.to_string());
    }
    r.txn = rec.txn;
    r.message = rec.message;
    let attempted = match command {
        "apply" => Some(r.changes.len()),
        "rollback" => Some(rec.changes),
        _ => None,
    };
    if let Some(n) = attempted {
        r.applied = if rec.committed { n } else { 0 };
        r.failed = if rec.committed || rec.result.is_empty() {
            0
        } else {
            n
        };
    }
    if let Ok(host) = host_for(target) {
        if r.root.as_os_str().is_empty() {
            r.root.clone_from(&host.root);
        }
        match state_dir(target, &host).map(|s| crate::report::save(&s, &r, opts.keep_reports)) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot write the run report: {e}"),
            Err(e) => tracing::warn!("cannot write the run report: {e}"),
        }
    }
    if let Some(path) = &opts.metrics_file
        && let Err(e) = crate::report::write_metrics(path, &r)
    {
        let _ = writeln!(anstream::stderr(), "harden: cannot write metrics: {e}");
    }
    // The error first, then the one-line summary: the summary is the last line.
    let result = result.map_err(|e| {
        print_error(&e);
        Error::Printed(e.code())
    });
    if !quiet {
        let _ = writeln!(anstream::stderr(), "{}", r.summary());
    }
    result
}

/// `harden: error: ...` on stderr, control characters escaped.
pub(crate) fn print_error(e: &Error) {
    if matches!(e, Error::Printed(_)) {
        return;
    }
    tracing::debug!(error = ?e);
    let _ = writeln!(
        anstream::stderr(),
        "harden: error: {}",
        render::esc_text(&e.to_string())
    );
}

fn cmd_runs(target: &Target, format: Format) -> Result<i32, Error> {
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    let runs = crate::report::load_all(&state);
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
    } else if runs.is_empty() {
        println!("no run reports in {}", crate::report::dir(&state).display());
    } else {
        for r in runs {
            println!(
                "{}  {:<8} {:<17} exit {}  {:>3} changes  {:>6} ms  {}",
                r.started,
                r.command,
                r.result,
                r.exit_code,
                r.change_count(),
                r.duration_ms,
                render::esc(&r.playbook)
            );
        }
    }
    Ok(exit::OK)
}

fn cmd_history(target: &Target, format: Format) -> Result<i32, Error> {
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    let lines = apply::history(&state).map_err(|e| Error::Refused(e.to_string()))?;
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&lines).unwrap_or_default()
        );
    } else if lines.is_empty() {
        println!("no transactions in {}", state.path.display());
    } else {
        for l in lines {
            println!(
                "{}  {:<8} {}  {:<24} {:>3} changes  {}{}",
                render::esc(&l.id),
                format!("{:?}", l.kind).to_lowercase(),
                render::esc(&l.started),
                render::esc(&l.playbook),
                l.changes,
                render::esc(&l.result),
                l.message
                    .map(|m| format!(" ({})", render::esc(&m)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(exit::OK)
}

pub(crate) fn host_for(target: &Target) -> Result<Host, Error> {
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
    Ok(Host::new(root, Arc::new(SystemRunner)))
}

pub(crate) fn state_dir(target: &Target, host: &Host) -> Result<StateDir, Error> {
    let path = match &target.state_dir {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => std::env::current_dir()
            .map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?
            .join(p),
        None => host.path(Path::new("/var/lib/harden")),
    };
    let state = StateDir::new(path)?;
    // The running system's own `/var/lib/harden` (root-owned, checked) is adopted
    // even without the marker, as older versions made it; an image's is not.
    crate::engine::trust::check(&state.path, target.state_dir.is_some() || host.is_live())?;
    Ok(state)
}

fn load(args: &PlanArgs) -> Result<Playbook, Error> {
    let overrides = playbook::parse_overrides(&args.extra_vars)?;
    let sources: Vec<Source> = if args.playbooks.is_empty() {
        vec![Source::resolve("baseline")]
    } else {
        args.playbooks.iter().map(|p| Source::resolve(p)).collect()
    };
    Ok(playbook::load(&sources, &overrides)?)
}

fn filter(args: &PlanArgs) -> Filter {
    Filter {
        tags: args.tags.iter().cloned().collect::<BTreeSet<_>>(),
        skip_tags: args.skip_tags.iter().cloned().collect::<BTreeSet<_>>(),
        exclude: std::collections::BTreeMap::new(),
        probes: false,
    }
}

pub(crate) fn prepare(args: &PlanArgs) -> Result<(Host, Playbook, Plan), Error> {
    prepare_with(args, false)
}

/// As [`prepare`]; `probes`: evaluate `probe:` rules (`check`).
fn prepare_with(args: &PlanArgs, probes: bool) -> Result<(Host, Playbook, Plan), Error> {
    let pb = load(args)?;
    let f = Filter {
        probes,
        ..filter(args)
    };
    playbook::check_selection(&pb, &f.tags, &f.skip_tags)?;
    let host = host_for(&args.target)?;
    let plan = engine::plan(&host, &pb, &f)?;
    Ok((host, pb, plan))
}

pub(crate) fn print_plan(plan: &Plan, format: Format) -> Result<(), Error> {
    let mut out = anstream::stdout();
    let text = match format {
        Format::Human => render::human(plan),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&render::json(plan)).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    out.write_all(text.as_bytes()).map_err(|source| Error::Io {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

fn warn_interrupted(host: &Host, target: &Target) {
    if let Ok(state) = state_dir(target, host)
        && let Ok(Some(j)) = state.journal()
        && !state.is_locked()
    {
        tracing::warn!(
            "transaction {} was interrupted (started {}); run `harden rollback` to restore its snapshot",
            j.txn,
            j.started
        );
        let _ = writeln!(
            anstream::stderr(),
            "harden: warning: transaction {} was interrupted; run `harden rollback` to restore its snapshot",
            j.txn
        );
    }
}

fn confirm(plan: &Plan, host: &Host) -> Result<(), Error> {
    ask(
        &format!(
            "Apply {} change(s) to {}?",
            plan.changes.len(),
            host.root.display()
        ),
        "apply",
    )
}

/// Asks `question` on the terminal; refuses when there is none (`--yes` is the
/// way to run `what` unattended) or the answer is not yes.
pub(crate) fn ask(question: &str, what: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(format!(
            "no terminal to confirm on: pass --yes to {what} without confirmation"
        )));
    }
    let mut err = anstream::stderr();
    let _ = write!(err, "{} [y/N] ", render::esc(question));
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if matches!(line.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(Error::Refused("not confirmed; nothing was changed".into()))
    }
}

fn identity(args: &PlanArgs) -> Result<crate::planfile::Identity, Error> {
    let playbooks = if args.playbooks.is_empty() {
        vec!["baseline".to_string()]
    } else {
        args.playbooks.clone()
    };
    Ok(crate::planfile::identity(
        &playbooks,
        &args.tags,
        &args.skip_tags,
        &args.extra_vars,
    )?)
}

/// Plans again for a saved plan, from its own playbooks and filters, and
/// refuses unless the result is the saved plan exactly.
fn replan_saved(args: &PlanArgs, path: &Path) -> Result<(PlanArgs, Host, Playbook, Plan), Error> {
    let file = crate::planfile::load(path)?;
    let id = &file.body.identity;
    let saved = PlanArgs {
        playbooks: id.playbooks.clone(),
        tags: id.tags.clone(),
        skip_tags: id.skip_tags.clone(),
        extra_vars: id.extra_vars.clone(),
        ..args.clone()
    };
    let (host, pb, plan) = prepare(&saved)?;
    crate::planfile::check_current(path, &file, &identity(&saved)?, &host.root, &plan)?;
    Ok((saved, host, pb, plan))
}

/// How `apply` was asked to run.
struct ApplyOpts<'a> {
    plan_file: Option<&'a Path>,
    yes: bool,
    strict: bool,
    accept_lockout: bool,
    confirm_within: Option<u64>,
}

fn cmd_apply(args: &PlanArgs, opts: &ApplyOpts, rec: &mut Recorder) -> Result<i32, Error> {
    let (args, host, pb, whole) = if let Some(path) = opts.plan_file {
        replan_saved(args, path)?
    } else {
        let (host, pb, plan) = prepare(args)?;
        (args.clone(), host, pb, plan)
    };
    let args = &args;
    rec.plan = Some(whole.clone());
    let state = state_dir(&args.target, &host)?;
    // What stops the whole apply is judged on the whole plan, before any
    // validator runs: a pending confirmation, the anti-lockout guards (they
    // see every rule, failed ones' context included) and `--strict`.
    let early = |e: Error| -> Result<i32, Error> {
        print_plan(&whole, args.format)?;
        print_rule_errors(&whole);
        Err(e)
    };
    if opts.strict && !whole.errors.is_empty() {
        return early(strict_refusal(&whole));
    }
    if let Err(e) = check_no_pending_confirm(&state) {
        return early(e);
    }
    if !whole.changes.is_empty()
        && let Err(e) = guard(&whole, opts.accept_lockout, false)
    {
        return early(e);
    }
    let f = filter(args);
    let (plan, f) = if whole.changes.is_empty() {
        (whole.clone(), engine::isolate::excluding_failed(&f, &whole))
    } else {
        engine::isolate::without_rejected(&host, &pb, &f, whole.clone())?
    };
    rec.plan = Some(plan.clone());
    print_plan(&plan, args.format)?;
    if opts.strict && !plan.errors.is_empty() {
        print_rule_errors(&plan);
        return Err(strict_refusal(&plan));
    }
    let partial = !plan.errors.is_empty();
    if plan.changes.is_empty() {
        print_rule_errors(&plan);
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
    // Planned again without the rejected rules: judged again, loudly once.
    guard(&plan, opts.accept_lockout, true)?;
    if !opts.yes {
        confirm(&plan, &host)?;
    }
    let replan = || engine::plan(&host, &pb, &f).map_err(|e| e.to_string());
    let report = match opts.confirm_within {
        None => apply::apply(&host, &state, &plan, &replan),
        Some(secs) => {
            let arm = |txn: &str| arm_watchdog(&host, &state, txn, secs);
            apply::apply_armed(&host, &state, &plan, &replan, &arm)
        }
    }
    .map_err(|e| Error::Refused(e.to_string()))?;
    print_report(&report, "apply");
    print_rule_errors(&plan);
    rec.record(&report);
    if partial && report.outcome == Outcome::Committed {
        rec.result = "partial";
    }
    if let Some(secs) = opts.confirm_within {
        start_confirm_window(&state, &report, secs)?;
    }
    Ok(match report.outcome {
        Outcome::Committed if partial => exit::PARTIAL,
        Outcome::Committed => exit::CHANGED,
        Outcome::ValidationFailed | Outcome::RolledBack | Outcome::Reverted => exit::ROLLED_BACK,
        Outcome::RollbackFailed => exit::ROLLBACK_FAILED,
    })
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

/// The anti-lockout guards' verdict on `plan`: refused unless the operator
/// accepts the risk, then a warning (printed once, when `warn`).
fn guard(plan: &Plan, accept: bool, warn: bool) -> Result<(), Error> {
    let refusals: Vec<String> = plan
        .refusals()
        .map(|n| format!("{}: {}", n.rule_id, n.message))
        .collect();
    if refusals.is_empty() {
        return Ok(());
    }
    if !accept {
        return Err(Error::Refused(format!(
            "the anti-lockout guard refuses this plan, nothing was changed:\n  {}\n(fix the playbook or the host; --i-accept-lockout-risk overrides)",
            refusals.join("\n  ")
        )));
    }
    if warn {
        let _ = writeln!(
            anstream::stderr(),
            "harden: WARNING: applying despite the anti-lockout guard (--i-accept-lockout-risk):\n  {}",
            refusals.join("\n  ")
        );
    }
    Ok(())
}

/// Refuses while an earlier transaction waits for `harden confirm` or is being
/// reverted by its watchdog.
fn check_no_pending_confirm(state: &StateDir) -> Result<(), Error> {
    confirm::settle(state);
    if let Some(p) = confirm::pending(state)? {
        return Err(Error::Refused(format!(
            "transaction {} waits for `harden confirm` (its watchdog reverts it otherwise); confirm it, let it expire or `harden rollback {}` first",
            p.txn, p.txn
        )));
    }
    if let Some(p) = confirm::reverting(state)? {
        return Err(Error::Refused(format!(
            "the confirm watchdog is reverting transaction {}; wait for it to finish",
            p.txn
        )));
    }
    Ok(())
}

/// After a committed apply with `--confirm-within`, the window starts now; a
/// failed apply cancels its watchdog.
fn start_confirm_window(state: &StateDir, report: &Report, secs: u64) -> Result<(), Error> {
    if report.outcome != Outcome::Committed {
        confirm::disarm(state, &report.txn);
        return Ok(());
    }
    if let Some(mut p) = confirm::pending(state)? {
        p.deadline = confirm::now_unix() + secs;
        confirm::set_pending(state, &p)?;
    }
    crate::engine::apply::crash_point("after-commit-confirm");
    let _ = writeln!(
        anstream::stderr(),
        "harden: run `harden confirm` within {secs} s to keep transaction {}; otherwise it is rolled back",
        report.txn
    );
    Ok(())
}

pub(crate) fn print_report(report: &Report, what: &str) {
    let mut err = anstream::stderr();
    for (h, o) in &report.handlers {
        match o {
            crate::host::service::Outcome::Done => {
                let _ = writeln!(err, "harden: {h}: done");
            }
            crate::host::service::Outcome::Skipped(why) => {
                let _ = writeln!(err, "harden: {h}: skipped ({why})");
            }
            crate::host::service::Outcome::Failed(why) => {
                let _ = writeln!(err, "harden: {h}: FAILED: {why}");
            }
        }
    }
    let line = match report.outcome {
        Outcome::Committed => match &report.message {
            Some(m) => format!(
                "harden: {what} committed as transaction {}; {m}",
                report.txn
            ),
            None => format!("harden: {what} committed as transaction {}", report.txn),
        },
        Outcome::ValidationFailed => format!(
            "harden: {what} refused by validation, nothing installed (transaction {}): {}",
            report.txn,
            report.message.as_deref().unwrap_or("")
        ),
        Outcome::RolledBack | Outcome::Reverted => format!(
            "harden: {what} failed and was rolled back (transaction {}): {}",
            report.txn,
            report.message.as_deref().unwrap_or("")
        ),
        Outcome::RollbackFailed => format!(
            "harden: {what} failed and restoring the snapshot failed too (transaction {}): {}; problems: {}",
            report.txn,
            report.message.as_deref().unwrap_or(""),
            report.restore_problems.join("; ")
        ),
    };
    let _ = writeln!(err, "{}", render::esc_text(&line));
    if report.outcome != Outcome::RollbackFailed && !report.restore_problems.is_empty() {
        let also = report.restore_problems.join("; ");
        let _ = writeln!(err, "harden: also: {}", render::esc_text(&also));
    }
}

/// Records the pending confirmation of `txn` and starts its watchdog: a transient
/// systemd service when this is the running system under systemd (it outlives any
/// login session), otherwise our own binary in a new session with no terminal.
fn arm_watchdog(host: &Host, state: &StateDir, txn: &str, secs: u64) -> Result<(), String> {
    let mut pending = confirm::Pending {
        txn: txn.to_string(),
        deadline: confirm::now_unix() + secs,
        watchdog_pid: None,
        outcome: None,
    };
    confirm::set_pending(state, &pending).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find our own binary: {e}"))?;
    let mut argv: Vec<std::ffi::OsString> = vec![
        exe.into(),
        "watchdog".into(),
        "--root".into(),
        host.root.clone().into(),
        "--state-dir".into(),
        state.path.clone().into(),
        "--txn".into(),
        txn.into(),
    ];
    let systemd = host.root == Path::new("/")
        && host.facts.init == crate::host::facts::Init::Systemd
        && Path::new("/usr/bin/systemd-run").exists();
    if systemd {
        let unit = format!("--unit=harden-confirm-{txn}");
        let mut full: Vec<std::ffi::OsString> = vec![
            "/usr/bin/systemd-run".into(),
            unit.into(),
            "--collect".into(),
            "--quiet".into(),
            "--".into(),
        ];
        full.append(&mut argv);
        argv = full;
    }
    let child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .env_remove("HARDEN_CRASH_AT")
        .spawn()
        .map_err(|e| format!("cannot start the confirm watchdog: {e}"))?;
    if systemd {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("systemd-run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "systemd-run failed to start the watchdog ({})",
                out.status
            ));
        }
    } else {
        pending.watchdog_pid = Some(child.id());
        confirm::set_pending(state, &pending).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn cmd_confirm(target: &Target) -> Result<i32, Error> {
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    match confirm::confirm(&state)? {
        confirm::Confirmed::Kept(txn) => {
            println!("confirmed transaction {txn}: it stays; its watchdog stops");
            Ok(exit::OK)
        }
        confirm::Confirmed::Expired(p) => Err(Error::Refused(format!(
            "too late: transaction {} was not confirmed in time{}",
            p.txn,
            p.outcome.map(|o| format!(" ({o})")).unwrap_or_default()
        ))),
        confirm::Confirmed::NothingPending => Err(Error::Refused(
            "no transaction waits for a confirmation".into(),
        )),
    }
}

fn cmd_watchdog(target: &Target, txn: &str) -> Result<i32, Error> {
    // A session of its own: the SSH session that started the apply may hang up.
    let _ = nix::unistd::setsid();
    let host = host_for(target)?;
    let state = state_dir(target, &host)?;
    match confirm::watch(&host, &state, txn).map_err(|e| Error::Refused(e.to_string()))? {
        confirm::Watch::Reverted(r) if r.outcome != Outcome::Committed => Ok(exit::ROLLBACK_FAILED),
        _ => Ok(exit::OK),
    }
}
