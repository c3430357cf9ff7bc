//! The command line's flags, defined once (clap derive): the help, the man page
//! and the completions are generated from these types. Only clap types live
//! here; what they mean is the session's ([`crate::session`]) and the
//! commands' ([`super::commands`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// What to plan.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Playbook file, or the name of an embedded one (baseline); repeatable.
    /// Default: the embedded baseline.
    #[arg(short, long = "playbook", value_name = "PLAYBOOK")]
    pub playbooks: Vec<String>,
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

/// What the timer's service runs (`crate::timer::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimerMode {
    /// Report drift only (exit 2 on drift: the unit shows as failed).
    Check,
    /// Converge, every guard on, never confirming anything itself.
    Apply,
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
        #[arg(long, value_enum, default_value_t = TimerMode::Check)]
        mode: TimerMode,
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
