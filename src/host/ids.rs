//! User and group names resolved inside the root's own `/etc/passwd` and
//! `/etc/group` (never the machine's NSS, and never the unmaintained `users` crate),
//! so an offline image resolves its own accounts.

use std::collections::HashMap;
use std::path::Path;

/// Name → id tables of one root.
#[derive(Debug, Default, Clone)]
pub struct Ids {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
    user_names: HashMap<u32, String>,
    group_names: HashMap<u32, String>,
}

impl Ids {
    /// Reads the tables; missing files give empty tables (only numeric ids resolve).
    #[must_use]
    pub fn load(root: &Path) -> Self {
        let read = |p: &str| {
            super::fs::read(root, Path::new(p))
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let mut ids = Self::default();
        for (name, id) in table(&read("/etc/passwd")) {
            ids.user_names.entry(id).or_insert_with(|| name.clone());
            ids.users.entry(name).or_insert(id);
        }
        for (name, id) in table(&read("/etc/group")) {
            ids.group_names.entry(id).or_insert_with(|| name.clone());
            ids.groups.entry(name).or_insert(id);
        }
        ids
    }

    /// A user name or numeric uid.
    #[must_use]
    pub fn uid(&self, name: &str) -> Option<u32> {
        name.parse().ok().or_else(|| self.users.get(name).copied())
    }

    /// A group name or numeric gid.
    #[must_use]
    pub fn gid(&self, name: &str) -> Option<u32> {
        name.parse().ok().or_else(|| self.groups.get(name).copied())
    }

    /// A uid as a name where known, for display.
    #[must_use]
    pub fn user_name(&self, uid: u32) -> String {
        self.user_names
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }

    /// A gid as a name where known, for display.
    #[must_use]
    pub fn group_name(&self, gid: u32) -> String {
        self.group_names
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }
}

fn table(text: &str) -> impl Iterator<Item = (String, u32)> + '_ {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?.trim();
        if name.is_empty() || name.starts_with(['#', '+', '-']) {
            return None;
        }
        let id = f.nth(1)?.trim().parse().ok()?;
        Some((name.to_string(), id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\npostiz:x:997:997::/opt/postiz:/bin/false\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\nshadow:x:42:\n").unwrap();
        let ids = Ids::load(t.path());
        assert_eq!(ids.uid("postiz"), Some(997));
        assert_eq!(ids.uid("1234"), Some(1234));
        assert_eq!(ids.gid("shadow"), Some(42));
        assert_eq!(ids.uid("nobody-here"), None);
        assert_eq!(ids.group_name(42), "shadow");
    }
}
