//! The anti-lockout guard of the `sshd` module: compares the effective settings
//! before and after the plan with the root's accounts (`/etc/passwd`, `shadow`,
//! `group`, and the authorized keys in their homes) and emits `Refused` notices,
//! each naming the user and the file. Always on; `--i-accept-lockout-risk` (in the
//! engine) overrides. It only reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::formats::sshd_config::Directive;
use crate::host::Host;
use crate::host::fs::read_resolving;
use crate::modules::{Ctx, Out};
use crate::plan::NoticeLevel;

use super::wild_match;

/// The settings the guard cares about, as sshd would use them for a default
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub password: bool,
    pub kbd_interactive: bool,
    pub pubkey: bool,
    pub permit_root: String,
    pub allow_users: Vec<String>,
    pub allow_groups: Vec<String>,
    pub deny_users: Vec<String>,
    pub deny_groups: Vec<String>,
    pub authorized_keys_files: Vec<String>,
    pub ports: BTreeSet<String>,
    pub listen: BTreeSet<String>,
}

impl Effective {
    /// From the global directives in reading order (first value wins, lists add up).
    #[must_use]
    pub fn of(flat: &[&Directive]) -> Self {
        let first = |names: &[&str]| {
            flat.iter()
                .find(|d| names.contains(&d.keyword_lower.as_str()))
                .map(|d| d.args.clone())
        };
        let yes = |names: &[&str], default: bool| {
            first(names)
                .and_then(|a| a.first().map(|v| v.eq_ignore_ascii_case("yes")))
                .unwrap_or(default)
        };
        let all = |name: &str| -> Vec<String> {
            flat.iter()
                .filter(|d| d.keyword_lower == name)
                .flat_map(|d| d.args.clone())
                .collect()
        };
        let ports: BTreeSet<String> = all("port").into_iter().collect();
        Self {
            password: yes(&["passwordauthentication"], true),
            kbd_interactive: yes(
                &[
                    "kbdinteractiveauthentication",
                    "challengeresponseauthentication",
                ],
                true,
            ),
            pubkey: yes(&["pubkeyauthentication"], true),
            permit_root: first(&["permitrootlogin"])
                .and_then(|a| a.first().map(|v| v.to_ascii_lowercase()))
                .unwrap_or_else(|| "prohibit-password".into()),
            allow_users: all("allowusers"),
            allow_groups: all("allowgroups"),
            deny_users: all("denyusers"),
            deny_groups: all("denygroups"),
            authorized_keys_files: first(&["authorizedkeysfile"]).unwrap_or_else(|| {
                vec![
                    ".ssh/authorized_keys".into(),
                    ".ssh/authorized_keys2".into(),
                ]
            }),
            ports: if ports.is_empty() {
                BTreeSet::from(["22".to_string()])
            } else {
                ports
            },
            listen: all("listenaddress").into_iter().collect(),
        }
    }

    fn password_on(&self) -> bool {
        self.password || self.kbd_interactive
    }

    /// Whether AllowUsers/AllowGroups/DenyUsers/DenyGroups let `a` in.
    fn lists_allow(&self, a: &Account) -> bool {
        let user_match = |p: &String| wild_match(p.split('@').next().unwrap_or(p), &a.name);
        let group_match = |p: &String| a.groups.iter().any(|g| wild_match(p, g));
        !self.deny_users.iter().any(user_match)
            && (self.allow_users.is_empty() || self.allow_users.iter().any(user_match))
            && !self.deny_groups.iter().any(group_match)
            && (self.allow_groups.is_empty() || self.allow_groups.iter().any(group_match))
    }

    fn root_ok(&self, a: &Account, with_password: bool) -> bool {
        a.uid != 0
            || match self.permit_root.as_str() {
                "yes" => true,
                "prohibit-password" | "without-password" => !with_password,
                _ => false,
            }
    }

    /// `a` can log in with an authorized key.
    fn key_way(&self, a: &Account, host: &Host) -> Option<PathBuf> {
        if !(a.login_shell && self.pubkey && self.lists_allow(a) && self.root_ok(a, false)) {
            return None;
        }
        usable_key(host, a, &self.authorized_keys_files)
    }

    /// `a` can log in with a password.
    fn password_way(&self, a: &Account) -> bool {
        a.login_shell
            && a.password_usable
            && self.password_on()
            && self.lists_allow(a)
            && self.root_ok(a, true)
    }
}

/// A local account of the root.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub home: String,
    pub login_shell: bool,
    pub password_usable: bool,
    pub groups: Vec<String>,
}

fn read_text(host: &Host, path: &str) -> String {
    read_resolving(&host.root, Path::new(path))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The root's accounts with their groups and whether their password is usable.
#[must_use]
pub fn accounts(host: &Host) -> Vec<Account> {
    let shadow = read_text(host, "/etc/shadow");
    let group = read_text(host, "/etc/group");
    let groups: Vec<(String, String, Vec<String>)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then(|| {
                (
                    f[0].to_string(),
                    f[2].to_string(),
                    f[3].split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            })
        })
        .collect();
    read_text(host, "/etc/passwd")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 || f[0].is_empty() || f[0].starts_with(['#', '+', '-']) {
                return None;
            }
            let name = f[0].to_string();
            let hash = shadow
                .lines()
                .find_map(|s| s.strip_prefix(&format!("{name}:")))
                .and_then(|rest| rest.split(':').next())
                .map_or_else(|| f[1].to_string(), str::to_string);
            let shell = f[6].trim();
            let mut gs: Vec<String> = groups
                .iter()
                .filter(|(g, gid, members)| {
                    *gid == f[3] || members.contains(&name) && !g.is_empty()
                })
                .map(|(g, _, _)| g.clone())
                .collect();
            gs.dedup();
            Some(Account {
                uid: f[2].parse().ok()?,
                home: f[5].to_string(),
                login_shell: !(shell.ends_with("/nologin") || shell.ends_with("/false")),
                password_usable: !hash.is_empty() && hash != "x" && !hash.starts_with(['!', '*']),
                groups: gs,
                name,
            })
        })
        .collect()
}

/// The first authorized-keys file of `a` with at least one key line, not writable
/// by group or others (sshd's `StrictModes` would ignore it).
fn usable_key(host: &Host, a: &Account, files: &[String]) -> Option<PathBuf> {
    for pat in files {
        if pat.eq_ignore_ascii_case("none") {
            continue;
        }
        let mut s = String::new();
        let mut chars = pat.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.next() {
                    Some('h') => s.push_str(&a.home),
                    Some('u') => s.push_str(&a.name),
                    Some('U') => s.push_str(&a.uid.to_string()),
                    Some('%') => s.push('%'),
                    _ => return None,
                }
            } else {
                s.push(c);
            }
        }
        let path = if s.starts_with('/') {
            PathBuf::from(s)
        } else {
            Path::new(&a.home).join(s)
        };
        let Some(bytes) = read_resolving(&host.root, &path) else {
            continue;
        };
        let writable =
            crate::host::fs::stat_resolving(&host.root, &path).is_some_and(|m| m.mode & 0o022 != 0);
        let has_key = String::from_utf8_lossy(&bytes).lines().any(|l| {
            let l = l.trim();
            !l.starts_with('#')
                && l.split_whitespace().any(|t| {
                    t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-")
                })
        });
        if has_key && !writable {
            return Some(path);
        }
    }
    None
}

/// Emits the guard's refusals for going from `before` to `after`.
pub fn check(ctx: &Ctx, main: &Path, before: &Effective, after: &Effective, out: &mut Out) {
    let host = ctx.host;
    let accts = accounts(host);
    let main = main.display();
    let mut refuse = |msg: String| {
        out.notices
            .push(ctx.notice(NoticeLevel::Refused, format!("anti-lockout: {msg}")));
    };
    let keyed_after: Vec<(&Account, PathBuf)> = accts
        .iter()
        .filter_map(|a| after.key_way(a, host).map(|p| (a, p)))
        .collect();
    let akf = after.authorized_keys_files.join(" ");
    let capable: Vec<String> = accts
        .iter()
        .filter(|a| a.login_shell)
        .map(|a| a.name.clone())
        .collect();

    // 1. Passwords off while nobody allowed in has a key.
    if before.password_on() && !after.password_on() && keyed_after.is_empty() {
        refuse(format!(
            "{main} turns password and keyboard-interactive login off, but no account allowed to log in has a usable authorized key (AuthorizedKeysFile {akf}; accounts checked: {}{})",
            capable.join(", "),
            if after.pubkey {
                ""
            } else {
                "; PubkeyAuthentication is off"
            }
        ));
    }

    // 2. Allow/Deny lists shutting out the session's user or every keyed account.
    let lists_changed = (
        &before.allow_users,
        &before.allow_groups,
        &before.deny_users,
        &before.deny_groups,
    ) != (
        &after.allow_users,
        &after.allow_groups,
        &after.deny_users,
        &after.deny_groups,
    );
    if lists_changed {
        if let Some(user) = &host.facts.session.user
            && let Some(a) = accts.iter().find(|a| &a.name == user && a.login_shell)
            && before.lists_allow(a)
            && !after.lists_allow(a)
        {
            refuse(format!(
                "AllowUsers/AllowGroups/DenyUsers/DenyGroups in {main} exclude `{user}`, the account running this session{}",
                if host.facts.session.over_ssh {
                    " over SSH"
                } else {
                    ""
                }
            ));
        }
        let keyed: Vec<&Account> = accts
            .iter()
            .filter(|a| {
                a.login_shell && usable_key(host, a, &after.authorized_keys_files).is_some()
            })
            .collect();
        if keyed.iter().any(|a| before.lists_allow(a))
            && !keyed.iter().any(|a| after.lists_allow(a))
        {
            let names: Vec<&str> = keyed.iter().map(|a| a.name.as_str()).collect();
            refuse(format!(
                "AllowUsers/AllowGroups/DenyUsers/DenyGroups in {main} exclude every account with an authorized key ({})",
                names.join(", ")
            ));
        }
    }

    // 3. Root login off while root is the only way in.
    if let Some(root) = accts.iter().find(|a| a.uid == 0 && a.name == "root") {
        let root_before = before.key_way(root, host).is_some() || before.password_way(root);
        let root_after = after.key_way(root, host).is_some() || after.password_way(root);
        let others = accts
            .iter()
            .filter(|a| a.uid != 0)
            .any(|a| after.key_way(a, host).is_some() || after.password_way(a));
        if root_before && !root_after && !others {
            refuse(format!(
                "{main} sets PermitRootLogin {} but root is the only account that can log in (no other account has a usable authorized key or password)",
                after.permit_root
            ));
        }
    }

    // 4. Port changes: socket activation and a harden-managed firewall.
    if before.ports != after.ports || before.listen != after.listen {
        let socket = Path::new("/etc/systemd/system/sockets.target.wants/ssh.socket");
        if matches!(host.lstat(socket), Ok(Some(_))) {
            refuse(format!(
                "ssh.socket is enabled ({}): with socket activation systemd owns the listening socket (ListenStream in ssh.socket), so Port/ListenAddress in {main} would not take effect; move the port to an ssh.socket drop-in or switch to ssh.service (systemctl disable --now ssh.socket; systemctl enable --now ssh.service) first",
                socket.display()
            ));
        }
        firewall_allows(ctx, host, &before.ports, &after.ports, &mut refuse);
    }
}

/// A firewall that would drop the new port: today the ufw rules under the root
/// (`/etc/ufw/user.rules` with `ENABLED=yes` in `/etc/ufw/ufw.conf`); the firewall
/// module will extend this.
fn firewall_allows(
    _ctx: &Ctx,
    host: &Host,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    refuse: &mut impl FnMut(String),
) {
    let conf = read_text(host, "/etc/ufw/ufw.conf");
    let enabled = conf.lines().any(|l| {
        l.trim()
            .replace('"', "")
            .eq_ignore_ascii_case("ENABLED=yes")
    });
    let rules = read_text(host, "/etc/ufw/user.rules");
    if !enabled || rules.is_empty() {
        return;
    }
    for port in after.difference(before) {
        let allowed = rules.lines().any(|l| {
            let l = l.trim();
            (l.contains(&format!("--dport {port} "))
                && (l.ends_with("ACCEPT") || l.contains("-j ufw-user-limit")))
                || l.starts_with(&format!("### tuple ### allow tcp {port} "))
                || l.starts_with(&format!("### tuple ### limit tcp {port} "))
                || l.starts_with(&format!("### tuple ### allow any {port} "))
        });
        if !allowed {
            refuse(format!(
                "Port {port}: the firewall (ufw, /etc/ufw/user.rules) does not allow tcp/{port}; allow it first or the next connection is dropped"
            ));
        }
    }
}
