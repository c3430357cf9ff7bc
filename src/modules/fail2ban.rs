//! `fail2ban`: jails in one file harden owns (`/etc/fail2ban/jail.d/harden.local`,
//! or `harden-NAME.local` with `name`, so rules with different `when:` conditions
//! each own their jails) and custom filters in `filter.d/NAME.local` (or `NAME.conf` when no stock
//! `NAME.conf` exists), everything else in `/etc/fail2ban` kept as it is.
//!
//! Three checks, with the real tools:
//! - every filter's `tests` run through `fail2ban-regex` at plan time, and the
//!   captured address must equal the test's `host` (no match when none is given):
//!   a filter whose tests fail is an error and nothing is planned. This is what
//!   catches the guide's greedy `^.*Failed login attempt.*<HOST>.*$`, which
//!   captures `0.0.0.7` for `203.0.113.7`;
//! - backend awareness: a jail whose `logpath` matches no file under the root is an
//!   error saying so; a stock jail (no `logpath`) on a root that logs to the
//!   journal only gets `backend = systemd`; a jail on the systemd backend is an
//!   error when the root lacks python3-systemd (fail2ban would then refuse to
//!   start every jail, and `fail2ban-client -t` does not notice);
//! - before install, the whole configuration is staged (a copy of the root's
//!   `/etc/fail2ban` with every candidate in place) and checked with
//!   `fail2ban-client -c /etc/fail2ban -t`, a staged check
//!   ([`crate::engine::validate`], confined under `--root`); logpaths are then
//!   resolved in the root's `/var/log`, never the machine's.
//!
//! Changes reload fail2ban.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, FileWrite, ModuleError, Out};
use crate::formats::ini::{IniBuilder, IniDialect};
use crate::host::runner::Cmd;
use crate::host::scratch::Scratch;
use crate::plan::VarValue;
use crate::plan::{Accept, Change, Check, Handler, NoticeLevel, Stage, Validator, Verb};

/// Parameters of `fail2ban:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The jail file is `jail.d/harden-NAME.local` (default `harden.local`).
    #[serde(default)]
    pub name: Option<String>,
    /// Keys of the `[DEFAULT]` section (bantime, findtime, maxretry, ...).
    #[serde(default)]
    pub defaults: BTreeMap<String, VarValue>,
    /// Jail name → its keys (enabled, logpath, filter, backend, port, ...).
    #[serde(default)]
    pub jails: BTreeMap<String, BTreeMap<String, VarValue>>,
    /// Custom filters by name.
    #[serde(default)]
    pub filters: BTreeMap<String, Filter>,
}

/// A custom filter and the log lines that prove it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Regular expressions for failures; each names the address (`<ADDR>`, `<HOST>`).
    pub failregex: Vec<String>,
    #[serde(default)]
    pub ignoreregex: Vec<String>,
    #[serde(default)]
    pub datepattern: Option<String>,
    /// Log lines and the address each must yield (none: it must not match).
    #[serde(default)]
    pub tests: Vec<FilterTest>,
}

/// One filter test.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterTest {
    pub line: String,
    /// The address the line must yield; absent: the line must not match.
    #[serde(default)]
    pub host: Option<String>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
}

fn valid_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn one_line(ctx: &Ctx, what: &str, v: &str) -> Result<(), ModuleError> {
    if v.contains(['\n', '\r']) {
        return Err(ctx.invalid(format!("{what}: must be one line")));
    }
    Ok(())
}

fn is_true(v: Option<&VarValue>) -> bool {
    match v {
        Some(VarValue::Bool(b)) => *b,
        Some(VarValue::Str(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        Some(VarValue::Int(i)) => *i != 0,
        _ => false,
    }
}

/// Whether a logpath pattern (wildcards in the file name only) matches a file
/// under the root.
fn logpath_exists(ctx: &Ctx, pattern: &str) -> bool {
    let p = Path::new(pattern);
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return false;
    };
    let name = name.to_string_lossy();
    if !name.contains(['*', '?']) {
        return matches!(ctx.host.lstat(p), Ok(Some(_)));
    }
    ctx.host.read_dir(dir).is_ok_and(|entries| {
        entries.unwrap_or_default().iter().any(|e| {
            e.name
                .to_str()
                .is_some_and(|n| crate::host::glob::matches(&name, n))
        })
    })
}

/// A root whose system logs go to the journal only (no syslog files).
fn journald_only(ctx: &Ctx) -> bool {
    [
        "/var/log/syslog",
        "/var/log/messages",
        "/var/log/auth.log",
        "/var/log/secure",
    ]
    .iter()
    .all(|f| !matches!(ctx.host.lstat(Path::new(f)), Ok(Some(_))))
}

/// Whether fail2ban's systemd backend can load under the root: the `systemd`
/// Python module (python3-systemd) in a system or local Python 3 directory.
fn python_systemd_installed(ctx: &Ctx) -> bool {
    ["/usr/lib", "/usr/lib64", "/usr/local/lib"]
        .iter()
        .any(|base| {
            ctx.host.read_dir(Path::new(base)).is_ok_and(|entries| {
                entries.unwrap_or_default().iter().any(|e| {
                    let py = &e.name;
                    py.to_string_lossy().starts_with("python3")
                        && ["dist-packages", "site-packages"].iter().any(|pk| {
                            let m = Path::new(base).join(py).join(pk).join("systemd/journal.py");
                            matches!(ctx.host.lstat(&m), Ok(Some(_)))
                        })
                })
            })
        })
}

fn filter_text(ctx: &Ctx, name: &str, f: &Filter) -> Result<String, ModuleError> {
    for r in f.failregex.iter().chain(&f.ignoreregex) {
        one_line(ctx, &format!("filter {name}: regex"), r)?;
    }
    if f.failregex.is_empty() {
        return Err(ctx.invalid(format!("filter {name}: `failregex` is empty")));
    }
    let mut entries = vec![
        ("failregex", f.failregex.join("\n")),
        ("ignoreregex", f.ignoreregex.join("\n")),
    ];
    if let Some(d) = &f.datepattern {
        one_line(ctx, &format!("filter {name}: datepattern"), d)?;
        entries.push(("datepattern", d.clone()));
    }
    IniBuilder::new(IniDialect::Python)
        .comment(&format!(
            "Managed by harden (rule {}): changes here are overwritten.",
            ctx.task.id
        ))
        .section("Definition", entries)
        .render()
        .map_err(|e| ctx.invalid(format!("filter {name}: {e}")))
}

/// Runs a filter's tests through the real `fail2ban-regex`; the failures, or a
/// reason the tests could not run.
fn run_tests(
    ctx: &Ctx,
    name: &str,
    text: &str,
    tests: &[FilterTest],
) -> Result<Vec<String>, String> {
    let dir = Scratch::new("fail2ban-regex").map_err(|e| format!("temp dir: {e}"))?;
    let filter_name = PathBuf::from(format!("/{name}.conf"));
    dir.write(&filter_name, text.as_bytes())
        .map_err(|e| e.to_string())?;
    let filter = dir.at(&filter_name);
    let mut failures = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        let log_name = PathBuf::from(format!("/test-{i}.log"));
        dir.write(&log_name, format!("{}\n", t.line).as_bytes())
            .map_err(|e| e.to_string())?;
        let log = dir.at(&log_name);
        let cmd = Cmd::new([
            "fail2ban-regex".as_ref(),
            "-o".as_ref(),
            "ip".as_ref(),
            log.as_os_str(),
            filter.as_os_str(),
        ]);
        let out = ctx.host.runner.run(&cmd).map_err(|e| e.to_string())?;
        if !out.success() {
            failures.push(format!(
                "test {}: fail2ban-regex failed: {}",
                i + 1,
                out.brief()
            ));
            continue;
        }
        let got: Vec<&str> = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let ok = match &t.host {
            Some(h) => got == [h.as_str()],
            None => got.is_empty(),
        };
        if !ok {
            failures.push(format!(
                "test {}: {:?} captured {} but expected {}",
                i + 1,
                t.line,
                if got.is_empty() {
                    "nothing".to_string()
                } else {
                    got.join(", ")
                },
                t.host
                    .as_deref()
                    .map_or_else(|| "no match".to_string(), str::to_string)
            ));
        }
    }
    Ok(failures)
}

/// A section of the jail file: its name and its `key = value` lines.
type Section = (String, Vec<(String, String)>);

/// A file to write: its path, its planned text and its current content.
type Pending = (PathBuf, String, Option<Vec<u8>>);

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let dir = ctx.path_param(None, "dir")?;
    let jail_file = match &p.name {
        None => ctx.path_param(None, "jail_file")?,
        Some(n) if valid_name(n) => dir.join("jail.d").join(format!("harden-{n}.local")),
        Some(n) => return Err(ctx.invalid(format!("`{n}` is not a jail file name"))),
    };
    if !ctx.exists(&dir)? {
        return Err(ctx.invalid(format!(
            "{} does not exist under the root (is fail2ban installed?)",
            dir.display()
        )));
    }
    let journal_only = journald_only(ctx);

    let sections = jail_sections(ctx, p, &dir, journal_only, out)?;
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if let Some(text) = jail_file_text(ctx, &sections)? {
        files.push((jail_file, text));
    }
    for (name, f) in &p.filters {
        files.push(filter_file(ctx, &dir, name, f, out)?);
    }
    plan_writes(ctx, &dir, files, out)
}

/// The `key = value` lines of one section, each key and value checked.
fn section_entries(
    ctx: &Ctx,
    what: &str,
    m: &BTreeMap<String, VarValue>,
) -> Result<Vec<(String, String)>, ModuleError> {
    m.iter()
        .map(|(k, v)| {
            if !valid_key(k) {
                return Err(ctx.invalid(format!("{what}: `{k}` is not a fail2ban key")));
            }
            let v = v.to_string();
            one_line(ctx, &format!("{what}: {k}"), &v)?;
            Ok((k.clone(), v))
        })
        .collect()
}

/// The jail file's sections: `[DEFAULT]`, then every jail checked and completed.
fn jail_sections(
    ctx: &Ctx,
    p: &Params,
    dir: &Path,
    journal_only: bool,
    out: &mut Out,
) -> Result<Vec<Section>, ModuleError> {
    let mut sections: Vec<Section> = Vec::new();
    if !p.defaults.is_empty() {
        sections.push((
            "DEFAULT".into(),
            section_entries(ctx, "defaults", &p.defaults)?,
        ));
    }
    for (name, keys) in &p.jails {
        if !valid_name(name) || name == "DEFAULT" || name == "INCLUDES" {
            return Err(ctx.invalid(format!("`{name}` is not a jail name")));
        }
        let mut entries = section_entries(ctx, &format!("jail {name}"), keys)?;
        if let Some(f) = keys.get("filter") {
            check_jail_filter(ctx, p, dir, name, &f.to_string())?;
        }
        if is_true(keys.get("enabled")) && !keys.contains_key("backend") {
            entries.extend(jail_backend(
                ctx,
                name,
                keys.get("logpath"),
                journal_only,
                out,
            )?);
        }
        let systemd = |e: &[(String, String)]| {
            e.iter()
                .any(|(k, v)| k == "backend" && v.starts_with("systemd"))
        };
        let default_systemd = sections
            .first()
            .is_some_and(|(s, e)| s == "DEFAULT" && systemd(e));
        if is_true(keys.get("enabled"))
            && (systemd(&entries) || (default_systemd && !keys.contains_key("backend")))
            && !python_systemd_installed(ctx)
        {
            return Err(ctx.invalid(format!(
                "jail {name}: backend systemd needs python3-systemd, which is not installed under the root: fail2ban would refuse to start every jail (`fail2ban-client -t` does not notice); install python3-systemd, or a syslog daemon (rsyslog) and a logpath"
            )));
        }
        sections.push((name.clone(), entries));
    }
    Ok(sections)
}

/// Whether a jail's filter exists: stock in `filter.d` or in this task's `filters`.
fn check_jail_filter(
    ctx: &Ctx,
    p: &Params,
    dir: &Path,
    name: &str,
    filter: &str,
) -> Result<(), ModuleError> {
    let base = filter.split('[').next().unwrap_or("").trim();
    let stock = dir.join("filter.d").join(format!("{base}.conf"));
    let exists = p.filters.contains_key(base)
        || matches!(ctx.host.lstat(&stock), Ok(Some(_)))
        || matches!(
            ctx.host
                .lstat(&dir.join("filter.d").join(format!("{base}.local"))),
            Ok(Some(_))
        );
    if exists {
        Ok(())
    } else {
        Err(ctx.invalid(format!(
            "jail {name}: filter `{base}` is neither in {} nor in this task's `filters`",
            dir.join("filter.d").display()
        )))
    }
}

/// The backend line an enabled jail without one gets: an error when its
/// logpath matches no file, `systemd` for a stock jail on a journald-only root.
fn jail_backend(
    ctx: &Ctx,
    name: &str,
    logpath: Option<&VarValue>,
    journal_only: bool,
    out: &mut Out,
) -> Result<Option<(String, String)>, ModuleError> {
    match logpath {
        Some(lp) => {
            let lp = lp.to_string();
            for pattern in lp.split_whitespace() {
                if !logpath_exists(ctx, pattern) {
                    let hint = if journal_only {
                        "this root logs to the journal only: create the service's log file, or set `backend: systemd` with a `journalmatch`"
                    } else {
                        "create it (fail2ban refuses to start a jail without its log), or set `backend: systemd`"
                    };
                    return Err(ctx.invalid(format!(
                        "jail {name}: logpath {pattern} matches no file under the root; {hint}"
                    )));
                }
            }
            Ok(None)
        }
        None if journal_only => {
            out.notices.push(ctx.notice(
                NoticeLevel::Info,
                format!(
                    "jail {name}: no syslog files under the root (journald only): backend = systemd"
                ),
            ));
            Ok(Some(("backend".into(), "systemd".into())))
        }
        None => Ok(None),
    }
}

/// The jail file's text, or none when there is no section to write.
fn jail_file_text(ctx: &Ctx, sections: &[Section]) -> Result<Option<String>, ModuleError> {
    if sections.is_empty() {
        return Ok(None);
    }
    let mut builder = IniBuilder::new(IniDialect::Python).comment(&format!(
        "Managed by harden (rule {}): changes here are overwritten.",
        ctx.task.id
    ));
    for (name, entries) in sections {
        builder = builder.section(name, entries.iter().map(|(k, v)| (k, v)));
    }
    builder
        .render()
        .map(Some)
        .map_err(|e| ctx.invalid(format!("jail file: {e}")))
}

/// A custom filter's file: its name checked, its tests passed, and where it goes.
fn filter_file(
    ctx: &Ctx,
    dir: &Path,
    name: &str,
    f: &Filter,
    out: &mut Out,
) -> Result<(PathBuf, String), ModuleError> {
    if !valid_name(name) {
        return Err(ctx.invalid(format!("`{name}` is not a filter name")));
    }
    let text = filter_text(ctx, name, f)?;
    check_filter_tests(ctx, name, f, &text, out)?;
    Ok((filter_path(ctx, dir, name), text))
}

/// Whether a filter's tests pass in `fail2ban-regex` (a warning when it has none).
fn check_filter_tests(
    ctx: &Ctx,
    name: &str,
    f: &Filter,
    text: &str,
    out: &mut Out,
) -> Result<(), ModuleError> {
    if f.tests.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!("filter {name} has no `tests`: its captured address is unchecked"),
        ));
        return Ok(());
    }
    match run_tests(ctx, name, text, &f.tests) {
        Ok(failures) if failures.is_empty() => Ok(()),
        Ok(failures) => Err(ctx.invalid(format!(
            "filter {name}: its tests fail with fail2ban-regex: {} (a greedy `.*` before <HOST> eats the start of the address; use `.*?` and <ADDR>)",
            failures.join("; ")
        ))),
        Err(why) => Err(ctx.invalid(format!(
            "filter {name}: cannot run its tests with fail2ban-regex: {why}"
        ))),
    }
}

/// Where a custom filter goes: `NAME.local` beside a stock `NAME.conf` (one
/// harden did not write), else `NAME.conf`.
fn filter_path(ctx: &Ctx, dir: &Path, name: &str) -> PathBuf {
    let stock = dir.join("filter.d").join(format!("{name}.conf"));
    let stock_exists = matches!(ctx.host.lstat(&stock), Ok(Some(_)))
        && !ctx
            .host
            .read(&stock)
            .ok()
            .flatten()
            .is_some_and(|b| b.starts_with(b"# Managed by harden"));
    if stock_exists {
        dir.join("filter.d").join(format!("{name}.local"))
    } else {
        stock
    }
}

/// The changes for the files that differ, the first carrying the staged check
/// of the whole configuration.
fn plan_writes(
    ctx: &Ctx,
    dir: &Path,
    files: Vec<(PathBuf, String)>,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let mut pending: Vec<Pending> = Vec::new();
    for (path, text) in files {
        let before = ctx.host.read(&path).map_err(ctx.fs())?;
        if before.as_deref() == Some(text.as_bytes()) {
            continue;
        }
        pending.push((path, text, before));
    }
    if pending.is_empty() {
        return Ok(());
    }
    let validator = staged_check(dir);
    let Validator::Staged { check, .. } = &validator;
    let how =
        crate::host::tools::describe(ctx.host, check).map_err(|e| ctx.invalid(e.to_string()))?;
    out.notices.push(ctx.notice(NoticeLevel::Info, how));
    for (i, (path, text, before)) in pending.into_iter().enumerate() {
        // One check sees every planned file: the first write carries it.
        let validators = if i == 0 {
            vec![validator.clone()]
        } else {
            Vec::new()
        };
        out.changes.push(write_change(
            ctx,
            &path,
            &text,
            before.as_deref(),
            validators,
        )?);
    }
    Ok(())
}

/// The staged check: a copy of the root's fail2ban directory with every planned
/// file in place, checked with `fail2ban-client -c DIR -t`; logpaths resolve in
/// the root's `/var/log` (its shape, when this machine's fail2ban-client runs on
/// the copy), never in the machine's own logs.
fn staged_check(dir: &Path) -> Validator {
    Validator::Staged {
        files: Stage {
            trees: vec![dir.to_path_buf()],
            shapes: vec![PathBuf::from("/var/log")],
            ..Stage::default()
        },
        check: Check {
            tool: "fail2ban-client".into(),
            args: vec!["-c".into(), dir.display().to_string(), "-t".into()],
            accept: Accept::Exit,
        },
    }
}

/// The change writing one file, its mode and owner kept, reloading fail2ban.
fn write_change(
    ctx: &Ctx,
    path: &Path,
    text: &str,
    before: Option<&[u8]>,
    validators: Vec<Validator>,
) -> Result<Change, ModuleError> {
    let meta = ctx.host.lstat(path).map_err(ctx.fs())?;
    let (mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
    let mut c = ctx.write_change(FileWrite {
        mode,
        uid,
        gid,
        validators,
        ..FileWrite::config(path, before, text.as_bytes(), "")
    })?;
    c.handlers
        .push(Handler::systemctl(Verb::Reload, "fail2ban"));
    Ok(c)
}
