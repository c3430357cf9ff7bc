//! A private temp tree for the tools a module runs while it plans on copies
//! (ufw and firewall-offline-cmd rewrite their own files, `nginx -t`,
//! `systemd-analyze security --offline`, `fail2ban-regex`): the one place
//! outside the root a plan may write, removed when dropped. Copies from the root
//! go through the no-follow reads of [`Host`]; nothing here touches the root.

use std::path::{Path, PathBuf};

use super::Host;
use super::fs::{Kind, host_path};

/// A scratch tree could not be made, written or copied into.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error("staging {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Fs(#[from] super::fs::FsError),
}

/// A temp tree whose files are named by logical paths (`/etc/ufw/user.rules`
/// is `TREE/etc/ufw/user.rules`).
pub struct Scratch {
    dir: tempfile::TempDir,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScratchError + '_ {
    move |source| ScratchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Scratch {
    /// A new empty tree, named `harden-WHAT.XXXX` in the temp directory.
    ///
    /// # Errors
    /// When the temp directory cannot be made.
    pub fn new(what: &str) -> Result<Self, ScratchError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("harden-{what}."))
            .tempdir()
            .map_err(io(&std::env::temp_dir()))?;
        Ok(Self { dir })
    }

    /// The tree's own path, for the tool's arguments.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where logical path `logical` is in the tree.
    #[must_use]
    pub fn at(&self, logical: &Path) -> PathBuf {
        host_path(self.dir.path(), logical)
    }

    /// Writes `content` at `logical`, making its parents.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write(&self, logical: &Path, content: &[u8]) -> Result<(), ScratchError> {
        let to = self.at(logical);
        self.make_dir(logical.parent().unwrap_or(Path::new("/")))?;
        std::fs::write(&to, content).map_err(io(&to))
    }

    /// Makes directory `logical` and its parents.
    ///
    /// # Errors
    /// When it cannot be made.
    pub fn make_dir(&self, logical: &Path) -> Result<(), ScratchError> {
        let to = self.at(logical);
        std::fs::create_dir_all(&to).map_err(io(&to))
    }

    /// The content at `logical`; `None` when there is none.
    #[must_use]
    pub fn read(&self, logical: &Path) -> Option<Vec<u8>> {
        std::fs::read(self.at(logical)).ok()
    }

    /// Copies the regular files of the root's directory `dir` (and, with
    /// `deep`, of its subdirectories) to the same logical paths.
    ///
    /// # Errors
    /// When the root cannot be read or the tree written.
    pub fn copy_from(&self, host: &Host, dir: &Path, deep: bool) -> Result<(), ScratchError> {
        let mut queue = vec![dir.to_path_buf()];
        while let Some(d) = queue.pop() {
            let Ok(Some(entries)) = host.read_dir(&d) else {
                continue;
            };
            self.make_dir(&d)?;
            for e in entries {
                let child = d.join(&e.name);
                match e.meta.kind {
                    Kind::Dir if deep => queue.push(child),
                    Kind::File => {
                        if let Some(bytes) = host.read(&child)? {
                            self.write(&child, &bytes)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Every regular file under the tree's directory `dir`, with its content,
    /// as logical paths in path order.
    #[must_use]
    pub fn files(&self, dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut queue = vec![dir.to_path_buf()];
        while let Some(d) = queue.pop() {
            let Ok(entries) = std::fs::read_dir(self.at(&d)) else {
                continue;
            };
            for e in entries.flatten() {
                let logical = d.join(e.file_name());
                match e.file_type() {
                    Ok(t) if t.is_dir() => queue.push(logical),
                    Ok(t) if t.is_file() => {
                        if let Ok(bytes) = std::fs::read(e.path()) {
                            out.push((logical, bytes));
                        }
                    }
                    _ => {}
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_regular_files_of_the_root_and_lists_them_back() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("etc/app/sub")).unwrap();
        std::fs::write(root.join("etc/app/a.conf"), "a").unwrap();
        std::fs::write(root.join("etc/app/sub/b.conf"), "b").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.join("etc/app/link")).unwrap();
        let host = Host::new(
            root.to_path_buf(),
            std::sync::Arc::new(crate::host::runner::SystemRunner),
        );
        let flat = Scratch::new("test").unwrap();
        flat.copy_from(&host, Path::new("/etc/app"), false).unwrap();
        assert_eq!(
            flat.files(Path::new("/etc")),
            vec![(PathBuf::from("/etc/app/a.conf"), b"a".to_vec())]
        );
        let deep = Scratch::new("test").unwrap();
        deep.copy_from(&host, Path::new("/etc/app"), true).unwrap();
        deep.write(Path::new("/run/x"), b"x").unwrap();
        assert_eq!(deep.files(Path::new("/etc/app")).len(), 2);
        assert_eq!(deep.read(Path::new("/run/x")).as_deref(), Some(&b"x"[..]));
        assert!(deep.at(Path::new("/run/x")).starts_with(deep.path()));
        let gone = deep.path().to_path_buf();
        drop(deep);
        assert!(!gone.exists());
    }
}
