//! Host access: the one value through which harden touches a machine. A [`Host`] is
//! a root prefix (`--root`, default `/`), a command runner, and the facts read from
//! that root. Nothing outside this module opens a managed path or runs a command by
//! other means, so `--root` hardens an offline image and tests run on temp trees.

pub mod crash;
pub mod facts;
pub mod fs;
pub mod glob;
pub mod health;
pub mod ids;
pub mod kernel;
pub mod locks;
pub mod packages;
pub mod rpm;
pub mod runner;
pub mod scratch;
pub mod service;
pub mod tools;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use facts::Facts;
use runner::Runner;

/// The target of a run.
#[derive(Clone)]
pub struct Host {
    /// The root prefix; `/` for the running system.
    pub root: PathBuf,
    pub runner: Arc<dyn Runner>,
    pub facts: Facts,
    pub ids: ids::Ids,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("root", &self.root)
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host for `root`, gathering its facts.
    #[must_use]
    pub fn new(root: PathBuf, runner: Arc<dyn Runner>) -> Self {
        let live = root == Path::new("/");
        let facts = Facts::gather(&root, live);
        let ids = ids::Ids::load(&root);
        Self {
            root,
            runner,
            facts,
            ids,
        }
    }

    /// Whether the root is the running system (live kernel values and services).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The host path of a logical path.
    #[must_use]
    pub fn path(&self, logical: &Path) -> PathBuf {
        fs::host_path(&self.root, logical)
    }

    /// Reads a managed file (no symlinks); `None` when absent.
    ///
    /// # Errors
    /// When the path is unreadable or crosses a symlink.
    pub fn read(&self, logical: &Path) -> Result<Option<Vec<u8>>, fs::FsError> {
        fs::read(&self.root, logical)
    }

    /// Metadata of a managed path (no symlinks followed).
    ///
    /// # Errors
    /// When the path cannot be examined or crosses a symlink.
    pub fn lstat(&self, logical: &Path) -> Result<Option<fs::Meta>, fs::FsError> {
        fs::lstat(&self.root, logical)
    }

    /// The entries of directory `logical`, sorted by name, each with its
    /// metadata (never following a symlink, on the way or at the end); `None`
    /// when the directory does not exist.
    ///
    /// # Errors
    /// When the directory cannot be listed or its path crosses a symlink.
    pub fn read_dir(&self, logical: &Path) -> Result<Option<Vec<fs::Listed>>, fs::FsError> {
        fs::Dirs::new(&self.root).list(logical)
    }

    /// The target of the symlink at `logical` (never followed); `None` when
    /// nothing is there.
    ///
    /// # Errors
    /// When something other than a symlink is there, or the path crosses one.
    pub fn read_link(&self, logical: &Path) -> Result<Option<PathBuf>, fs::FsError> {
        fs::read_link(&self.root, logical)
    }

    /// Opens a regular file for streaming (no symlinks); `None` when absent.
    ///
    /// # Errors
    /// When the path is unreadable, not a regular file, or crosses a symlink.
    pub fn open(&self, logical: &Path) -> Result<Option<std::fs::File>, fs::FsError> {
        fs::open_file(&self.root, logical)
    }

    /// Finds an executable under the root.
    #[must_use]
    pub fn binary(&self, name: &str) -> Option<PathBuf> {
        facts::find_binary(&self.root, name)
    }

    /// The first container or VM runtime installed under the root (Docker,
    /// containerd, Podman, CRI-O, libvirt, LXD, Kubernetes' kubelet or k3s), by
    /// the binary that names it. Such a host forwards packets for its guests, so
    /// rules like `net.ipv4.ip_forward = 0` must not apply there.
    #[must_use]
    pub fn container_runtime(&self) -> Option<&'static str> {
        facts::CONTAINER_RUNTIMES
            .iter()
            .copied()
            .find(|b| self.binary(b).is_some())
    }
}
