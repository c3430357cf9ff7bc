//! Why one step of a transaction that has started failed (arm, validate, perform,
//! handle, verify): the transaction then restores its snapshot, and the step's
//! error becomes the message of its [`super::apply::Report`]. What stops a
//! transaction before it starts is a [`super::apply::TxnError`] instead.
//!
//! The words of each variant are the ones operators and tests already read;
//! this room owns them and nothing else.

use std::path::PathBuf;

use super::snapshot::SnapshotError;
use super::validate::ValidateError;
use crate::host::fs::FsError;
use crate::plan::Handler;

/// An error of the caller's (planning again, arming a watchdog), carried as is.
pub type Foreign = Box<dyn std::error::Error + Send + Sync>;

/// One failed step of a running transaction.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The hook run once the journal is on disk (the confirm watchdog) failed:
    /// nothing was written.
    #[error("{0}")]
    Arm(Foreign),
    /// A validator rejected a staged candidate, or could not run.
    #[error("{path}: {error}")]
    Validate { path: PathBuf, error: ValidateError },
    /// A write, removal, link or metadata change.
    #[error(transparent)]
    Perform(#[from] FsError),
    /// A kernel parameter could not be set.
    #[error(transparent)]
    Sysctl(#[from] SnapshotError),
    /// The package manager failed.
    #[error("{0}")]
    Packages(String),
    /// A handler (reload, restart, ...) failed after the writes.
    #[error("handler `{handler}` failed: {message}")]
    Handler { handler: Handler, message: String },
    /// The plan could not be computed again after the writes.
    #[error("verification failed: {0}")]
    Replan(Foreign),
    /// The plan computed again after the writes still changes these
    /// (`RULE TARGET` each).
    #[error("verification failed: still to change after apply: {}", .0.join(", "))]
    Unconverged(Vec<String>),
}
