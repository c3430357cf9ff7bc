//! Shell patterns, the one implementation harden has: `*`, `?` and `[...]`
//! (`[!...]` or `[^...]` negated, `a-z` ranges) matched against one path
//! component ([`matches`]), and absolute patterns expanded under the root
//! through the no-follow walk of [`super::fs`] ([`super::Host::glob`]). It only
//! reads.

use std::path::{Path, PathBuf};

use super::Host;
use super::fs::Kind;

/// Whether `name` (one path component) matches `pattern`, as `fnmatch(3)`
/// without flags: a leading `.` is an ordinary character here (see
/// [`Host::glob`] for the expansion, which hides dot files as `glob(3)` does).
#[must_use]
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn go(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
        Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
        Some(('[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                // No closing bracket: a literal `[`.
                return n.first() == Some(&'[') && go(rest, &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            in_class(&rest[..close], c) && go(&rest[close + 1..], &n[1..])
        }
        Some((&c, rest)) => n.first() == Some(&c) && go(rest, &n[1..]),
    }
}

/// Whether `c` is in the bracket expression `class` (without its brackets).
fn in_class(class: &[char], c: char) -> bool {
    let (negated, set) = match class.split_first() {
        Some(('!' | '^', s)) => (true, s),
        _ => (false, class),
    };
    let mut hit = false;
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            hit |= set[i] <= c && c <= set[i + 2];
            i += 3;
        } else {
            hit |= set[i] == c;
            i += 1;
        }
    }
    hit != negated
}

fn is_pattern(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

impl Host {
    /// The regular files under the root matching the absolute `pattern`
    /// (wildcards in any component), sorted component by component as
    /// `glob(3)` sorts them; a name starting with `.` matches only a pattern
    /// component starting with `.`. Directories are walked without following
    /// symlinks; what cannot be listed matches nothing.
    #[must_use]
    pub fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let mut paths = vec![PathBuf::from("/")];
        for comp in pattern.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            for base in &paths {
                if !is_pattern(comp) {
                    next.push(base.join(comp));
                    continue;
                }
                let hidden_ok = comp.starts_with('.');
                let listed = self.read_dir(base).ok().flatten().unwrap_or_default();
                next.extend(
                    listed
                        .iter()
                        .filter_map(|e| e.name.to_str())
                        .filter(|n| (hidden_ok || !n.starts_with('.')) && matches(comp, n))
                        .map(|n| base.join(n)),
                );
            }
            paths = next;
        }
        paths.retain(|p| self.is_file(p));
        paths
    }

    /// Whether a regular file is at `logical` (never following a symlink).
    #[must_use]
    pub fn is_file(&self, logical: &Path) -> bool {
        matches!(self.lstat(logical), Ok(Some(m)) if m.kind == Kind::File)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("*.conf", "50-cloud-init.conf"));
        assert!(!matches("*.conf", "a.conf.bak"));
        assert!(matches("[0-9]?-*.conf", "50-x.conf"));
        assert!(!matches("[!0-9]*", "5x"));
        assert!(matches("*.gpg", "db.sql.gz.gpg"));
        assert!(!matches("*.gpg", "db.sql.gz"));
        assert!(matches("db-??.age", "db-01.age"));
        assert!(!matches("db-??.age", "db-1.age"));
        assert!(matches("a[b", "a[b"));
        assert!(matches("*", ".hidden"), "fnmatch without FNM_PERIOD");
        assert!(matches("*", ""));
        assert!(matches("*error.log", "error.log"));
        assert!(matches("*error.log", "site-error.log"));
        assert!(!matches("*error.log", "access.log"));
        assert!(matches("auth.lo?", "auth.log"));
    }

    #[test]
    fn expansion_sorts_hides_dot_files_and_never_follows_links() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("etc/d")).unwrap();
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        for f in [
            "etc/d/b.conf",
            "etc/d/a.conf",
            "etc/d/.c.conf",
            "elsewhere/x.conf",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        std::fs::create_dir(root.join("etc/d/dir.conf")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", root.join("etc/link")).unwrap();
        std::os::unix::fs::symlink("/elsewhere/x.conf", root.join("etc/d/l.conf")).unwrap();
        let host = Host::new(
            root.to_path_buf(),
            std::sync::Arc::new(crate::host::runner::SystemRunner),
        );
        assert_eq!(
            host.glob("/etc/d/*.conf"),
            vec![
                PathBuf::from("/etc/d/a.conf"),
                PathBuf::from("/etc/d/b.conf")
            ]
        );
        assert_eq!(
            host.glob("/etc/d/.*.conf"),
            vec![PathBuf::from("/etc/d/.c.conf")]
        );
        assert!(host.glob("/etc/link/*.conf").is_empty());
        assert!(host.glob("/etc/*/*.conf").len() == 2);
        assert_eq!(
            host.glob("/etc/d/a.conf"),
            vec![PathBuf::from("/etc/d/a.conf")]
        );
    }
}
