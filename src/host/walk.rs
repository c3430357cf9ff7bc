//! Walking a directory tree under the root: every directory opened relative to
//! its parent's fd with `O_NOFOLLOW` (never a full path resolved again), listed
//! once, its entries stat-ed relative to it; the directories near the top walked
//! in parallel on the cores available, the results always in one fixed order.
//!
//! The order is depth first, in name order: a directory's listing, then the whole
//! walk of its first subdirectory, then of its second, and so on, whatever the
//! number of threads. The parallel part stops [`PARALLEL_DEPTH`] levels below the
//! top; deeper subtrees are walked by one thread each with an explicit stack, so a
//! tree nested thousands deep (an image can hold one) never deepens the stack.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use rayon::prelude::*;

use super::fs::{self, FsError, Kind, Listed};

/// Levels below the top whose subdirectories are walked in parallel.
pub const PARALLEL_DEPTH: usize = 3;

/// What a walk asks of each directory it lists.
pub trait Visitor: Sync {
    /// What is kept of one directory.
    type Out: Send;
    /// Whether to walk into `entry`, a directory listed in some directory.
    fn descend(&self, entry: &Listed) -> bool;
    /// What is kept of `dir` (logical path) and its entries (name order).
    fn visit(&self, dir: &Path, entries: Vec<Listed>) -> Self::Out;
}

/// Walks the tree at `top` (logical) under `root`: `visitor.visit` for `top` and
/// each directory below that `visitor.descend` accepts, its results in the order
/// the module doc gives. `None` when `top` does not exist.
///
/// # Errors
/// When `top` or a directory on the way to it is a symlink or not a directory, or
/// when a directory cannot be opened or listed (one that vanished while the walk
/// ran is an error naming it: the walk saw it a moment before).
pub fn tree<V: Visitor>(
    root: &Path,
    top: &Path,
    visitor: &V,
) -> Result<Option<Vec<V::Out>>, FsError> {
    let Some(fd) = fs::open_dir(root, top)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    walk_parallel(visitor, &fd, top, 0, &mut out)?;
    Ok(Some(out))
}

/// Lists the directory open at `fd`, then walks its subdirectories: in parallel
/// while `depth` is below [`PARALLEL_DEPTH`], by [`walk_sequential`] below that.
fn walk_parallel<V: Visitor>(
    visitor: &V,
    fd: &OwnedFd,
    dir: &Path,
    depth: usize,
    out: &mut Vec<V::Out>,
) -> Result<(), FsError> {
    if depth >= PARALLEL_DEPTH {
        return walk_sequential(visitor, fd, dir, out);
    }
    let subdirs = list(visitor, fd, dir, out)?;
    let walked: Vec<Result<Vec<V::Out>, FsError>> = subdirs
        .into_par_iter()
        .map(|name| {
            let path = dir.join(&name);
            let child = open(fd, &name, &path)?;
            let mut below = Vec::new();
            walk_parallel(visitor, &child, &path, depth + 1, &mut below)?;
            Ok(below)
        })
        .collect();
    // The first failure in walk order, whichever thread met it first.
    for w in walked {
        out.extend(w?);
    }
    Ok(())
}

/// The walk of one subtree by one thread: a stack of directories still to list,
/// each named by its parent's fd (shared) and its name, opened only when its turn
/// comes, so the fds open at once are at most the depth of the tree.
fn walk_sequential<V: Visitor>(
    visitor: &V,
    fd: &OwnedFd,
    dir: &Path,
    out: &mut Vec<V::Out>,
) -> Result<(), FsError> {
    let subdirs = list(visitor, fd, dir, out)?;
    let first = Arc::new(fd.try_clone().map_err(|source| FsError::Io {
        path: dir.to_path_buf(),
        op: "dup",
        source,
    })?);
    let mut stack: Vec<(Arc<OwnedFd>, OsString, PathBuf)> = Vec::new();
    push(&mut stack, &first, dir, subdirs);
    while let Some((parent, name, path)) = stack.pop() {
        let child = Arc::new(open(&parent, &name, &path)?);
        drop(parent);
        let subdirs = list(visitor, &child, &path, out)?;
        push(&mut stack, &child, &path, subdirs);
    }
    Ok(())
}

/// Pushes `subdirs` of `dir` so that the first in name order is popped first.
fn push(
    stack: &mut Vec<(Arc<OwnedFd>, OsString, PathBuf)>,
    fd: &Arc<OwnedFd>,
    dir: &Path,
    subdirs: Vec<OsString>,
) {
    for name in subdirs.into_iter().rev() {
        let path = dir.join(&name);
        stack.push((Arc::clone(fd), name, path));
    }
}

/// Lists `dir`, hands the listing to the visitor, and returns the names of the
/// subdirectories to walk into, in name order.
fn list<V: Visitor>(
    visitor: &V,
    fd: &OwnedFd,
    dir: &Path,
    out: &mut Vec<V::Out>,
) -> Result<Vec<OsString>, FsError> {
    let entries = fs::list_at(fd, dir)?;
    let subdirs = entries
        .iter()
        .filter(|e| e.meta.kind == Kind::Dir && visitor.descend(e))
        .map(|e| e.name.clone())
        .collect();
    out.push(visitor.visit(dir, entries));
    Ok(subdirs)
}

/// Opens the subdirectory `name` of the directory open at `fd`; `path` names it.
fn open(fd: &OwnedFd, name: &OsString, path: &Path) -> Result<OwnedFd, FsError> {
    fs::open_child(fd, name, || path.to_path_buf())?.ok_or_else(|| FsError::Sys {
        path: path.to_path_buf(),
        op: "open directory (it was listed a moment before)",
        errno: Errno::ENOENT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps every listing as (directory, names); walks into every directory.
    struct Names;

    impl Visitor for Names {
        type Out = (PathBuf, Vec<OsString>);
        fn descend(&self, _: &Listed) -> bool {
            true
        }
        fn visit(&self, dir: &Path, entries: Vec<Listed>) -> Self::Out {
            (
                dir.to_path_buf(),
                entries.into_iter().map(|e| e.name).collect(),
            )
        }
    }

    /// The order the module doc promises, computed the plain way: a directory's
    /// listing, then each subdirectory's walk in name order.
    fn expected(host: &Path, logical: &Path) -> Vec<(PathBuf, Vec<OsString>)> {
        let mut names: Vec<(OsString, bool)> = std::fs::read_dir(host)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), e.file_type().unwrap().is_dir())
            })
            .collect();
        names.sort();
        let mut out = vec![(
            logical.to_path_buf(),
            names.iter().map(|(n, _)| n.clone()).collect(),
        )];
        for (n, is_dir) in names {
            if is_dir {
                out.extend(expected(&host.join(&n), &logical.join(&n)));
            }
        }
        out
    }

    #[test]
    fn the_order_is_depth_first_in_name_order_below_and_above_the_parallel_levels() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("srv/tree");
        // Wide at the top, and deeper than the parallel levels in places.
        for i in 0..40 {
            let mut d = top.join(format!("d{i}"));
            for depth in 0..(i % 7) {
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join(format!("f{depth}")), "x").unwrap();
                d = d.join(format!("s{}", depth % 3));
            }
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(top.join("zz"), "x").unwrap();
        let got = tree(t.path(), Path::new("/srv/tree"), &Names)
            .unwrap()
            .unwrap();
        assert_eq!(got, expected(&top, Path::new("/srv/tree")));
        // The same on every run, whatever the threads did.
        for _ in 0..5 {
            assert_eq!(
                tree(t.path(), Path::new("/srv/tree"), &Names)
                    .unwrap()
                    .unwrap(),
                got
            );
        }
    }

    #[test]
    fn a_tree_nested_far_deeper_than_the_stack_allows_recursion_is_walked() {
        let t = tempfile::tempdir().unwrap();
        // 3000 levels: longer than PATH_MAX, so made one level at a time.
        let mut fd = fs::open_dir(t.path(), Path::new("/")).unwrap().unwrap();
        for _ in 0..3000 {
            nix::sys::stat::mkdirat(&fd, "d", nix::sys::stat::Mode::from_bits_truncate(0o755))
                .unwrap();
            fd = fs::open_child(&fd, std::ffi::OsStr::new("d"), PathBuf::new)
                .unwrap()
                .unwrap();
        }
        let got = tree(t.path(), Path::new("/d"), &Names).unwrap().unwrap();
        assert_eq!(got.len(), 3000);
        assert!(got.last().unwrap().1.is_empty());
    }

    #[test]
    fn a_missing_top_is_none_and_a_symlinked_top_is_refused() {
        let t = tempfile::tempdir().unwrap();
        assert!(
            tree(t.path(), Path::new("/nope"), &Names)
                .unwrap()
                .is_none()
        );
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("link")).unwrap();
        let err = tree(t.path(), Path::new("/link"), &Names).unwrap_err();
        assert!(matches!(err, FsError::Symlink { .. }), "{err:?}");
    }

    #[test]
    fn a_symlink_to_a_directory_below_is_listed_but_never_walked_into() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::create_dir_all(t.path().join("top/a")).unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("top/a/out")).unwrap();
        let got = tree(t.path(), Path::new("/top"), &Names).unwrap().unwrap();
        assert_eq!(
            got,
            vec![
                (PathBuf::from("/top"), vec![OsString::from("a")]),
                (PathBuf::from("/top/a"), vec![OsString::from("out")]),
            ]
        );
    }
}
