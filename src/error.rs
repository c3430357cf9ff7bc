//! The top-level error of a run and the exit codes it maps to. Each layer keeps its
//! own error enum; this one only gathers them so `main` can pick the exit status.
//! The exit codes are documented here and in `docs/exit-codes.md`, and chosen
//! here only: by error variant ([`Error::code`]) and by how a transaction ended
//! ([`exit::of_apply`], [`exit::of_rollback`]).

use std::path::PathBuf;

use crate::engine::apply::TxnError;

/// Exit codes, one place for all of them.
pub mod exit {
    use crate::engine::state::Outcome;

    /// Success: nothing to do, or the command completed.
    pub const OK: i32 = 0;
    /// Error before any change: bad input, lock held, guard refused, precondition moved.
    pub const ERROR: i32 = 1;
    /// Changes: `apply` changed and verified; `check` (and `plan --detailed-exitcode`) found drift.
    pub const CHANGED: i32 = 2;
    /// `apply` failed and the snapshot was restored.
    pub const ROLLED_BACK: i32 = 4;
    /// `apply` failed and restoring the snapshot failed too: the host needs attention.
    pub const ROLLBACK_FAILED: i32 = 5;
    /// `apply`: some rules failed (could not be planned, or a validator rejected
    /// their candidate); every other rule was applied or already compliant.
    pub const PARTIAL: i32 = 6;

    /// The exit code of an apply transaction that ran; `partial` when some
    /// rules failed before it (they were left out).
    #[must_use]
    pub fn of_apply(outcome: Outcome, partial: bool) -> i32 {
        match outcome {
            Outcome::Committed if partial => PARTIAL,
            Outcome::Committed => CHANGED,
            Outcome::ValidationFailed | Outcome::RolledBack | Outcome::Reverted => ROLLED_BACK,
            Outcome::RollbackFailed => ROLLBACK_FAILED,
        }
    }

    /// The exit code of a rollback transaction that ran: done, or the host
    /// needs attention.
    #[must_use]
    pub fn of_rollback(outcome: Outcome) -> i32 {
        match outcome {
            Outcome::Committed => OK,
            _ => ROLLBACK_FAILED,
        }
    }
}

/// Anything that stops a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error(transparent)]
    Module(#[from] crate::modules::ModuleError),
    #[error(transparent)]
    Fs(#[from] crate::host::fs::FsError),
    #[error(transparent)]
    State(#[from] crate::engine::state::StateError),
    #[error(transparent)]
    PlanFile(#[from] crate::planfile::PlanFileError),
    #[error(transparent)]
    Timer(#[from] crate::timer::TimerError),
    /// A transaction that could not start, or a rollback with nothing to do.
    #[error(transparent)]
    Txn(#[from] TxnError),
    #[error("{0}")]
    Refused(String),
    /// An error already printed (before a run's summary line), ending the
    /// process with this code.
    #[error("(reported above)")]
    Printed(i32),
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The exit status this error ends the process with. Every error but an
    /// already printed one stops a command before it changed anything.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            Self::Printed(code) => *code,
            // Bad input, found before anything is planned or written.
            Self::Playbook(_)
            | Self::Module(_)
            | Self::PlanFile(_)
            | Self::Timer(_)
            // The host, an image or the state directory could not be read or
            // trusted: nothing was written.
            | Self::Fs(_)
            | Self::State(_)
            | Self::Io { .. }
            // Refused before any change: a guard, `--strict`, no confirmation.
            | Self::Refused(_)
            // A transaction that did not start: the lock is held, an
            // interrupted one waits for its rollback, what the plan observed
            // moved, the snapshot could not be taken; or nothing to roll back.
            | Self::Txn(
                TxnError::State(_)
                | TxnError::Snapshot(_)
                | TxnError::Lock(_)
                | TxnError::Interrupted { .. }
                | TxnError::Moved { .. }
                | TxnError::NothingToRollBack(_),
            ) => exit::ERROR,
        }
    }
}
