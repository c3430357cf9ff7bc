//! The top-level error of a run and the exit codes it maps to. Each layer keeps its
//! own error enum; this one only gathers them so `main` can pick the exit status.
//! The exit codes are documented here and in `docs/exit-codes.md`.

use std::path::PathBuf;

/// Exit codes, one place for all of them.
pub mod exit {
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
    /// The exit status this error ends the process with.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            Self::Printed(code) => *code,
            _ => exit::ERROR,
        }
    }
}
