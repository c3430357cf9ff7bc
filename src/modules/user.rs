//! `user`: one local account's shape: present (created as a system or a regular
//! account when missing), its shell, home and comment, and optionally locked
//! (`!` before the shadow hash, as `passwd -l`) and expired. It edits the root's
//! `passwd`, `shadow`, `group` and `gshadow` as whole-file atomic writes with their
//! modes and owners kept exactly, under the shadow-utils locks (`lckpwdf` and the
//! `FILE.lock` files, taken by the engine: see [`crate::host::locks`]), so a
//! concurrent `useradd` cannot interleave. New ids come from the root's own
//! `login.defs`. The plan shows field-level changes and never a hash; the
//! `shadow`/`gshadow` diffs are redacted. Locking, expiring or giving a non-login
//! shell to `root` or to the account running this session is refused by the
//! anti-lockout guard.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, ModuleError, Out, diff, missing_parents, observed};
use crate::formats::accounts::{
    AccountsError, Format, Group, GroupEntry, GroupFormat, Gshadow, GshadowEntry, GshadowFormat,
    LoginDefs, Passwd, PasswdEntry, PasswdFormat, Shadow, ShadowEntry, ShadowFormat, Table,
    next_system_id,
};
use crate::plan::{Change, Lock, MakeDir, NoticeLevel, Op, WriteFile};

/// Parameters of `user:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The login name.
    pub name: String,
    /// When created: a system account (id from `SYS_UID_MIN..SYS_UID_MAX` of the
    /// root's `login.defs`, no password ageing).
    #[serde(default)]
    pub system: bool,
    /// When created: this uid (default: the next free one of the range); an
    /// existing account with another uid is an error (harden does not renumber).
    #[serde(default)]
    pub uid: Option<u32>,
    /// Login shell, e.g. `/usr/sbin/nologin`.
    #[serde(default)]
    pub shell: Option<String>,
    /// Home directory.
    #[serde(default)]
    pub home: Option<String>,
    /// Create the home directory (mode 0750, owned by the account) when missing.
    #[serde(default)]
    pub create_home: bool,
    /// The comment (GECOS) field.
    #[serde(default)]
    pub comment: Option<String>,
    /// Lock the password (`!` prefix in shadow). `false` leaves it as it is.
    #[serde(default)]
    pub locked: bool,
    /// Account expiry date, `YYYY-MM-DD` (the account cannot log in from that day).
    #[serde(default)]
    pub expire: Option<String>,
}

const PASSWD: &str = "/etc/passwd";
const SHADOW: &str = "/etc/shadow";
const GROUP: &str = "/etc/group";
const GSHADOW: &str = "/etc/gshadow";
const LOGIN_DEFS: &str = "/etc/login.defs";
/// `lckpwdf(3)`'s lock file.
const PWD_LOCK: &str = "/etc/.pwd.lock";

/// Shells that refuse an interactive login.
fn is_nologin(shell: &str) -> bool {
    matches!(
        shell.rsplit('/').next(),
        Some("nologin" | "false" | "sync" | "halt" | "shutdown")
    )
}

/// A name `useradd` accepts (Debian's default `NAME_REGEX` without the `$` suffix).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Option<u64> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in[usize::try_from(m - 1).ok()?] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Today in days since 1970-01-01 (`SOURCE_DATE_EPOCH` wins, as in shadow-utils).
fn today() -> u64 {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    secs / 86_400
}

/// One account database as read for this plan.
struct Db<F: Format> {
    path: &'static str,
    before: Option<Vec<u8>>,
    table: Option<Table<F>>,
}

impl<F: Format> Db<F> {
    fn load(ctx: &Ctx, path: &'static str) -> Result<Self, ModuleError> {
        let before = ctx.read_planned(Path::new(path))?;
        let table = before
            .as_deref()
            .map(|b| {
                let text = std::str::from_utf8(b)
                    .map_err(|_| ctx.invalid(format!("{path} is not UTF-8 text")))?;
                Table::parse(text).map_err(|e| ctx.invalid(e.to_string()))
            })
            .transpose()?;
        Ok(Self {
            path,
            before,
            table,
        })
    }

    /// The table, which must exist for this edit.
    fn need(&mut self, ctx: &Ctx) -> Result<&mut Table<F>, ModuleError> {
        let path = self.path;
        self.table
            .as_mut()
            .ok_or_else(|| ctx.invalid(format!("{path} does not exist under the root")))
    }

    /// A change writing the table back when it was edited.
    fn change(&self, ctx: &Ctx, secret: bool) -> Result<Option<Change>, ModuleError> {
        let (Some(table), Some(before)) = (&self.table, &self.before) else {
            return Ok(None);
        };
        let after = table.render();
        if after.as_bytes() == before.as_slice() {
            return Ok(None);
        }
        let path = Path::new(self.path);
        // Mode and owner are kept exactly (shadow is 0640 root:shadow on Debian).
        let meta = ctx
            .host
            .lstat(path)
            .map_err(ctx.fs())?
            .ok_or_else(|| ctx.invalid(format!("{} vanished while planning", self.path)))?;
        let fields: Vec<String> = table.changes().iter().map(ToString::to_string).collect();
        // A legacy passwd/group may hold hashes on other lines: then the context
        // lines of a diff could show them, so redact it too.
        let hashes = table
            .iter()
            .any(super::super::formats::accounts::Entry::has_usable_password);
        let mut c = ctx.change(self.path, fields.join("; "));
        c.diff = Some(diff(before, after.as_bytes(), secret || hashes));
        c.ops.push(Op::WriteFile(WriteFile {
            path: path.to_path_buf(),
            content: after.into_bytes(),
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            expect: observed(Some(before)),
            validators: Vec::new(),
        }));
        Ok(Some(c))
    }
}

fn acc<'a>(ctx: &'a Ctx<'_>) -> impl Fn(AccountsError) -> ModuleError + 'a {
    |e| ctx.invalid(e.to_string())
}

/// The locks shadow-utils' `useradd` takes, in its order: `lckpwdf` (when the
/// root is the running system, or its lock file exists, as in a chroot), then the
/// `.lock` file of each database that exists.
fn locks(ctx: &Ctx) -> Result<Vec<Lock>, ModuleError> {
    let mut out = Vec::new();
    if ctx.host.is_live() || ctx.exists(Path::new(PWD_LOCK))? {
        out.push(Lock::Fcntl {
            path: PWD_LOCK.into(),
        });
    }
    for db in [PASSWD, SHADOW, GROUP, GSHADOW] {
        if ctx.exists(Path::new(db))? {
            out.push(Lock::PidFile { path: db.into() });
        }
    }
    Ok(out)
}

/// A home directory to create: its path and its owner's uid and gid.
type NewHome = (String, u32, u32);

/// The four account databases as read for this plan.
struct Dbs {
    passwd: Db<PasswdFormat>,
    shadow: Db<ShadowFormat>,
    group: Db<GroupFormat>,
    gshadow: Db<GshadowFormat>,
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let name = p.name.as_str();
    check_params(ctx, p)?;
    let expire = p
        .expire
        .as_deref()
        .map(|d| {
            parse_date(d).ok_or_else(|| ctx.invalid(format!("expire `{d}`: expected YYYY-MM-DD")))
        })
        .transpose()?;

    let mut dbs = Dbs {
        passwd: Db::load(ctx, PASSWD)?,
        shadow: Db::load(ctx, SHADOW)?,
        group: Db::load(ctx, GROUP)?,
        gshadow: Db::load(ctx, GSHADOW)?,
    };
    let existing = dbs.passwd.need(ctx)?.get(name).cloned();
    let new_home = match &existing {
        Some(e) => update_account(ctx, p, e, &mut dbs.passwd)?,
        None => create_account(ctx, p, &mut dbs)?,
    };
    lock_and_expire(ctx, p, &mut dbs.shadow, expire)?;

    guard(ctx, p, existing.as_ref(), out);

    let mut changes = db_changes(ctx, &dbs)?;
    if let Some((home, uid, gid)) = new_home {
        changes.extend(home_change(ctx, name, &home, uid, gid)?);
    }
    out.changes.extend(changes);
    Ok(())
}

/// Whether the name, shell, home and comment can go into `passwd`.
fn check_params(ctx: &Ctx, p: &Params) -> Result<(), ModuleError> {
    let name = p.name.as_str();
    if !valid_name(name) {
        return Err(ctx.invalid(format!(
            "`{name}` is not a valid account name (lower case letters, digits, `_`, `-`; at most 32)"
        )));
    }
    for (key, v) in [("shell", &p.shell), ("home", &p.home)] {
        if let Some(v) = v
            && (!v.starts_with('/') || v.contains([':', '\n']))
        {
            return Err(ctx.invalid(format!("`{key}` must be an absolute path without `:`")));
        }
    }
    if p.comment
        .as_deref()
        .is_some_and(|c| c.contains([':', '\n']))
    {
        return Err(ctx.invalid("`comment` cannot contain `:` or a newline"));
    }
    Ok(())
}

/// An existing account's shell, home and comment as asked (never its uid), and
/// the home to create, if asked.
fn update_account(
    ctx: &Ctx,
    p: &Params,
    e: &PasswdEntry,
    passwd: &mut Db<PasswdFormat>,
) -> Result<Option<NewHome>, ModuleError> {
    let name = p.name.as_str();
    if let Some(uid) = p.uid
        && uid != e.uid()
    {
        return Err(ctx.invalid(format!(
            "account `{name}` exists with uid {}, not {uid}; harden does not renumber accounts",
            e.uid()
        )));
    }
    let pw: &mut Passwd = passwd.need(ctx)?;
    if let Some(shell) = &p.shell {
        pw.set_shell(name, shell).map_err(acc(ctx))?;
    }
    if let Some(home) = &p.home {
        pw.set_home(name, home).map_err(acc(ctx))?;
    }
    if let Some(c) = &p.comment {
        pw.set_gecos(name, c).map_err(acc(ctx))?;
    }
    if p.create_home {
        let home = p.home.clone().unwrap_or_else(|| e.home().to_string());
        return Ok(Some((home, e.uid(), e.gid())));
    }
    Ok(None)
}

/// The root's `login.defs`, or its defaults when it has none.
fn login_defs(ctx: &Ctx) -> Result<LoginDefs, ModuleError> {
    Ok(
        match ctx.host.read(Path::new(LOGIN_DEFS)).map_err(ctx.fs())? {
            Some(b) => LoginDefs::parse(&String::from_utf8_lossy(&b))
                .map_err(|e| ctx.invalid(e.to_string()))?,
            None => LoginDefs::default(),
        },
    )
}

/// The uid (and gid) of a new account: the one asked if free, else the next
/// free one of the system or the regular range.
fn new_id(
    ctx: &Ctx,
    p: &Params,
    pw: &Passwd,
    gr: &Group,
    defs: &LoginDefs,
) -> Result<u32, ModuleError> {
    Ok(match p.uid {
        Some(uid) => {
            if pw.by_uid(uid).is_some() || gr.by_gid(uid).is_some() {
                return Err(ctx.invalid(format!("uid/gid {uid} is already taken")));
            }
            uid
        }
        None if p.system => next_system_id(pw, gr, defs).ok_or_else(|| {
            ctx.invalid("no free id in the system range of the root's login.defs")
        })?,
        None => (defs.uid_min.max(defs.gid_min)..=defs.uid_max.min(defs.gid_max))
            .find(|id| pw.by_uid(*id).is_none() && gr.by_gid(*id).is_none())
            .ok_or_else(|| ctx.invalid("no free id in the root's login.defs range"))?,
    })
}

/// A new account's lines in all four databases, as `useradd` writes them, and
/// the home to create, if asked.
fn create_account(ctx: &Ctx, p: &Params, dbs: &mut Dbs) -> Result<Option<NewHome>, ModuleError> {
    let name = p.name.as_str();
    let defs = login_defs(ctx)?;
    let gr: &mut Group = dbs.group.need(ctx)?;
    if gr.get(name).is_some() {
        return Err(ctx.invalid(format!(
            "a group `{name}` exists but no account: give the account its own group by hand, harden does not adopt groups"
        )));
    }
    let pw: &mut Passwd = dbs.passwd.need(ctx)?;
    let id = new_id(ctx, p, pw, gr, &defs)?;
    let home = p.home.clone().unwrap_or_else(|| {
        if p.system {
            "/nonexistent".into()
        } else {
            format!("/home/{name}")
        }
    });
    let shell = p
        .shell
        .clone()
        .unwrap_or_else(|| "/usr/sbin/nologin".into());
    let entry = PasswdEntry::new(
        name,
        id,
        id,
        p.comment.as_deref().unwrap_or(""),
        &home,
        &shell,
    )
    .map_err(acc(ctx))?;
    pw.add(entry).map_err(acc(ctx))?;
    dbs.group
        .need(ctx)?
        .add(GroupEntry::new(name, id, &[]).map_err(acc(ctx))?)
        .map_err(acc(ctx))?;
    if let Some(gs) = dbs.gshadow.table.as_mut() {
        let gs: &mut Gshadow = gs;
        gs.add(GshadowEntry::new(name, "!", &[]).map_err(acc(ctx))?)
            .map_err(acc(ctx))?;
    }
    let sh: &mut Shadow = dbs.shadow.need(ctx)?;
    // As `useradd`: no password (`!`), last change today; a regular
    // account gets the usual ageing fields.
    let ageing = if p.system {
        ["", "", ""]
    } else {
        ["0", "99999", "7"]
    };
    let day = today().to_string();
    let fields = [name, "!", &day, ageing[0], ageing[1], ageing[2], "", "", ""];
    sh.add(ShadowEntry::from_fields(&fields).map_err(acc(ctx))?)
        .map_err(acc(ctx))?;
    if p.create_home && home != "/nonexistent" {
        return Ok(Some((home, id, id)));
    }
    Ok(None)
}

/// The account's shadow line locked and its expiry set, when asked.
fn lock_and_expire(
    ctx: &Ctx,
    p: &Params,
    shadow: &mut Db<ShadowFormat>,
    expire: Option<u64>,
) -> Result<(), ModuleError> {
    if !p.locked && expire.is_none() {
        return Ok(());
    }
    let name = p.name.as_str();
    let sh = shadow.need(ctx)?;
    if sh.get(name).is_none() {
        return Err(ctx.invalid(format!(
            "account `{name}` has no line in {SHADOW}; cannot lock or expire it"
        )));
    }
    if p.locked {
        sh.lock(name).map_err(acc(ctx))?;
    }
    if let Some(day) = expire {
        sh.set_expire(name, Some(day)).map_err(acc(ctx))?;
    }
    Ok(())
}

/// The writes of the edited databases, each under shadow-utils' locks.
fn db_changes(ctx: &Ctx, dbs: &Dbs) -> Result<Vec<Change>, ModuleError> {
    let mut changes: Vec<Change> = [
        dbs.passwd.change(ctx, false)?,
        dbs.shadow.change(ctx, true)?,
        dbs.group.change(ctx, false)?,
        dbs.gshadow.change(ctx, true)?,
    ]
    .into_iter()
    .flatten()
    .collect();
    if !changes.is_empty() {
        let locks = locks(ctx)?;
        for c in &mut changes {
            c.locks.clone_from(&locks);
        }
    }
    Ok(changes)
}

/// The creation of the account's home, when it is missing (an error when
/// something else is in its place).
fn home_change(
    ctx: &Ctx,
    name: &str,
    home: &str,
    uid: u32,
    gid: u32,
) -> Result<Option<Change>, ModuleError> {
    let path = PathBuf::from(home);
    crate::host::fs::components(&path).map_err(ctx.fs())?;
    match ctx.host.lstat(&path).map_err(ctx.fs())? {
        None => {
            let mut c = ctx.change(home, format!("create home of {name}"));
            c.ops = missing_parents(ctx, &path)?;
            c.ops.push(Op::MakeDir(MakeDir {
                path,
                mode: 0o750,
                uid,
                gid,
            }));
            Ok(Some(c))
        }
        Some(m) if m.kind == crate::host::fs::Kind::Dir => Ok(None),
        Some(_) => Err(ctx.invalid(format!("home {home} exists and is not a directory"))),
    }
}

/// Refuses (anti-lockout) to take the login away from root or from the account
/// running this session.
fn guard(ctx: &Ctx, p: &Params, existing: Option<&PasswdEntry>, out: &mut Out) {
    let Some(e) = existing else { return };
    let session = ctx.host.facts.session.user.as_deref();
    let who = if e.uid() == 0 || e.name() == "root" {
        "root"
    } else if session == Some(e.name()) {
        "the account running this session"
    } else {
        return;
    };
    let mut what = Vec::new();
    if p.locked && !e.is_locked() {
        what.push("lock its password".to_string());
    }
    if let Some(shell) = &p.shell
        && is_nologin(shell)
        && !is_nologin(e.shell())
    {
        what.push(format!("give it the non-login shell {shell}"));
    }
    if p.expire.is_some() {
        what.push("set an expiry date".into());
    }
    if !what.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Refused,
            format!(
                "refusing to {} for `{}`: it is {who}, and this could lock you out (pass --i-accept-lockout-risk to apply anyway)",
                what.join(" and "),
                e.name()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("24-01-01"), None);
    }

    #[test]
    fn names_and_shells() {
        assert!(valid_name("postiz"));
        assert!(valid_name("_apt"));
        assert!(valid_name("systemd-network"));
        assert!(!valid_name("Root"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name("-x"));
        assert!(is_nologin("/usr/sbin/nologin"));
        assert!(is_nologin("/bin/false"));
        assert!(!is_nologin("/bin/bash"));
    }
}
