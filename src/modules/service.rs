//! `service`: whether a systemd unit is enabled, masked, started or stopped.
//! Enabled and masked are what `systemctl enable/disable/mask/unmask` write: the
//! symlinks under `/etc/systemd/system` that the unit's `[Install]` section asks
//! for (`WantedBy=`, `RequiredBy=`, `Alias=`, `Also=`), and a link to `/dev/null`.
//! They are planned as symlink operations read from the root's files alone, so
//! an offline root gets exactly what `systemctl --root` would write, and the
//! transaction snapshots and restores them byte for byte. `started`/`stopped`
//! concern the running system only: the live state is asked of systemd through
//! the service layer, and start/stop run as handlers after a daemon-reload. A
//! unit the root lacks is this rule's error; a unit its vendor masked (its file
//! a link to `/dev/null`, as Debian ships `sudo.service`) counts as masked, and
//! enabling, starting or unmasking it is. This module never writes and runs
//! nothing but the service layer's read-only `is-active` query on a live host.
//!
//! Not done: `SysV` `rc?.d` links (`systemd-sysv-install`, which only a host booted
//! with sysvinit reads), template units and `[Install]` specifiers (errors).

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use serde::Deserialize;

use super::{Ctx, ModuleError, Out, missing_parents};
use crate::formats::ini::{IniDialect, IniDoc};
use crate::host::fs::{self, Kind};
use crate::host::service;
use crate::plan::{Handler, NoticeLevel, Observed, Op, Symlink, Verb};

/// Parameters of `service:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The unit, `NAME.TYPE`; a name without a unit type means `NAME.service`.
    pub name: String,
    /// Enabled (the `[Install]` links exist) or disabled (none of them do).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Masked (`/etc/systemd/system/UNIT` -> `/dev/null`) or not.
    #[serde(default)]
    pub masked: Option<bool>,
    /// Running or not, on the running system (offline roots: reported, skipped).
    #[serde(default)]
    pub state: Option<State>,
}

/// The wanted run state of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Started,
    Stopped,
}

/// Where the administrator's links live (and where `systemctl` writes them).
pub const ETC: &str = "/etc/systemd/system";

/// The system unit search path, most local first, as systemd 252 on Debian
/// reads it (runtime directories left out: nothing under `/run` persists).
const SEARCH: [&str; 4] = [
    ETC,
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

const TYPES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

/// `NAME` as a full unit name, or why it is not one harden accepts.
fn unit_name(name: &str) -> Result<String, String> {
    let full = match name.rsplit_once('.') {
        Some((_, ty)) if TYPES.contains(&ty) => name.to_string(),
        _ => format!("{name}.service"),
    };
    let stem = full.rsplit_once('.').map_or("", |(s, _)| s);
    if stem.is_empty()
        || stem.starts_with('.')
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c))
    {
        return Err(format!("`{name}` is not a unit name"));
    }
    if stem.contains('@') {
        return Err(format!(
            "`{full}`: template units and instances are not supported"
        ));
    }
    Ok(full)
}

/// What the `[Install]` section of a unit asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Install {
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub alias: Vec<String>,
    pub also: Vec<String>,
}

impl Install {
    /// Reads `[Install]` from a unit file's text (systemd's syntax: repeated keys
    /// accumulate, an empty assignment resets, values are space-separated).
    ///
    /// # Errors
    /// A malformed unit, or a value harden does not expand (`%` specifiers).
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc = IniDoc::parse(text, IniDialect::Systemd).map_err(|e| e.to_string())?;
        let list = |key: &str| -> Result<Vec<String>, String> {
            let mut out = Vec::new();
            for v in doc.get_all("Install", key) {
                for w in v.split_whitespace() {
                    if w.contains('%') {
                        return Err(format!("{key}={w}: specifiers are not supported"));
                    }
                    let w = unit_name(w)?;
                    if !out.contains(&w) {
                        out.push(w);
                    }
                }
            }
            Ok(out)
        };
        Ok(Self {
            wanted_by: list("WantedBy")?,
            required_by: list("RequiredBy")?,
            alias: list("Alias")?,
            also: list("Also")?,
        })
    }

    /// Whether enabling does anything (a unit without it is "static").
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.wanted_by.is_empty()
            && self.required_by.is_empty()
            && self.alias.is_empty()
            && self.also.is_empty()
    }
}

/// A unit found under the root.
#[derive(Debug, Clone)]
struct Unit {
    name: String,
    /// Where the unit file is, as links point to it (`/lib/systemd/system/x`).
    path: PathBuf,
    install: Install,
    /// What `/etc/systemd/system/NAME` was when the unit was found.
    etc: EtcEntry,
    /// The unit file is a link to `/dev/null`: masked where the vendor put it
    /// (Debian's `sudo.service`, `hwclock.service`), which no `systemctl
    /// unmask` undoes.
    vendor_masked: bool,
}

impl Unit {
    /// Why this unit cannot be `what` (enabled, started, unmasked) when its
    /// vendor masked it.
    fn vendor_mask(&self, what: &str) -> Option<String> {
        self.vendor_masked.then(|| {
            format!(
                "{} is masked by the vendor ({} -> /dev/null): it cannot be {what}",
                self.name,
                self.path.display()
            )
        })
    }
}

/// What is at `/etc/systemd/system/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EtcEntry {
    None,
    File,
    Link(PathBuf),
    Other,
}

fn etc_entry(ctx: &Ctx, name: &str) -> Result<EtcEntry, ModuleError> {
    let path = Path::new(ETC).join(name);
    Ok(
        match ctx.host.lstat(&path).map_err(ctx.fs())?.map(|m| m.kind) {
            None => EtcEntry::None,
            Some(Kind::File) => EtcEntry::File,
            Some(Kind::Symlink) => EtcEntry::Link(
                fs::read_link(&ctx.host.root, &path)
                    .map_err(ctx.fs())?
                    .unwrap_or_default(),
            ),
            Some(_) => EtcEntry::Other,
        },
    )
}

fn is_null(target: &Path) -> bool {
    target == Path::new("/dev/null")
}

/// The units this plan found so far, by name: a plan reads each unit once,
/// however many rules (or `Also=` lists) name it.
type Found = std::cell::RefCell<std::collections::HashMap<String, Unit>>;

/// Finds `name` on the search path and reads its `[Install]` (once a plan).
fn find_unit(ctx: &Ctx, name: &str) -> Result<Unit, ModuleError> {
    let found = ctx.pending.memo("service.units", Found::default);
    if let Some(u) = found.borrow().get(name) {
        return Ok(u.clone());
    }
    let unit = read_unit(ctx, name)?;
    found.borrow_mut().insert(name.to_string(), unit.clone());
    Ok(unit)
}

/// Finds `name` on the search path and reads its `[Install]`.
fn read_unit(ctx: &Ctx, name: &str) -> Result<Unit, ModuleError> {
    let etc = etc_entry(ctx, name)?;
    let mut path = None;
    match &etc {
        EtcEntry::File => path = Some(Path::new(ETC).join(name)),
        EtcEntry::Link(t) if !is_null(t) => {
            let base = t.file_name().map(|b| b.to_string_lossy().into_owned());
            if base.as_deref() != Some(name) {
                return Err(ctx.invalid(format!(
                    "{ETC}/{name} is an alias of {}: manage that unit instead",
                    t.display()
                )));
            }
            // A unit linked into place (`systemctl link`): the link's target is the unit.
            path = Some(t.clone());
        }
        _ => {}
    }
    // Where to read it: the same path, or with the root's directory links
    // (`/lib` -> `usr/lib`) resolved when the search found it through one.
    let mut read_at = path.clone();
    if path.is_none() {
        for dir in &SEARCH[1..] {
            let logical = Path::new(dir).join(name);
            // One walk where no directory on the way is a link; the root's
            // own directory links resolved only then.
            let found = match ctx.host.lstat(&logical) {
                Ok(meta) => meta.map(|_| logical.clone()),
                Err(_) => match fs::resolve_dirs(&ctx.host.root, &logical) {
                    Some(real) => ctx.host.lstat(&real).map_err(ctx.fs())?.map(|_| real),
                    None => None,
                },
            };
            if let Some(real) = found {
                path = Some(logical);
                read_at = Some(real);
                break;
            }
        }
    }
    let (Some(path), Some(read_at)) = (path, read_at) else {
        return Err(ctx.invalid(format!(
            "the root has no unit {name} (looked in {})",
            SEARCH.join(", ")
        )));
    };
    // A vendor's mask: the unit file itself a link to /dev/null. Nothing to read.
    let vendor_masked = read_at != Path::new(ETC).join(name)
        && ctx
            .host
            .lstat(&read_at)
            .map_err(ctx.fs())?
            .is_some_and(|m| m.kind == Kind::Symlink)
        && ctx
            .host
            .read_link(&read_at)
            .map_err(ctx.fs())?
            .is_some_and(|t| is_null(&t));
    if vendor_masked {
        return Ok(Unit {
            name: name.to_string(),
            path,
            install: Install::default(),
            etc,
            vendor_masked,
        });
    }
    // Vendor units may themselves be links (ctrl-alt-del.target -> reboot.target).
    let text = fs::read_resolving(&ctx.host.root, &read_at)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .ok_or_else(|| ctx.invalid(format!("{}: cannot read the unit", path.display())))?;
    let install = Install::parse(&text)
        .map_err(|e| ctx.invalid(format!("{}: [Install]: {e}", path.display())))?;
    Ok(Unit {
        name: name.to_string(),
        path,
        install,
        etc,
        vendor_masked,
    })
}

/// The unit and those its `Also=` names, transitively, each once.
fn with_also(ctx: &Ctx, first: Unit) -> Result<Vec<Unit>, ModuleError> {
    let mut seen = BTreeSet::from([first.name.clone()]);
    let mut out = vec![first];
    let mut i = 0;
    while i < out.len() {
        for also in out[i].install.also.clone() {
            if seen.insert(also.clone()) {
                out.push(find_unit(ctx, &also)?);
            }
        }
        i += 1;
    }
    Ok(out)
}

/// The links `systemctl enable` makes for a unit: `(link, target)`.
fn enable_links(u: &Unit) -> Vec<(PathBuf, PathBuf)> {
    let etc = Path::new(ETC);
    let mut out = Vec::new();
    for t in &u.install.wanted_by {
        out.push((etc.join(format!("{t}.wants")).join(&u.name), u.path.clone()));
    }
    for t in &u.install.required_by {
        out.push((
            etc.join(format!("{t}.requires")).join(&u.name),
            u.path.clone(),
        ));
    }
    for a in &u.install.alias {
        out.push((etc.join(a), u.path.clone()));
    }
    out
}

/// The links `systemctl disable` removes for a unit: every symlink in
/// `/etc/systemd/system` or one directory below whose name or target names the
/// unit or one of its aliases; the mask link (to `/dev/null`) stays.
fn disable_links(ctx: &Ctx, u: &Unit) -> Result<Vec<(PathBuf, PathBuf)>, ModuleError> {
    let names: BTreeSet<&str> = std::iter::once(u.name.as_str())
        .chain(u.install.alias.iter().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    let links = ctx.pending.memo("service.etc_links", || {
        etc_links(ctx).map_err(|e| match e {
            ModuleError::Fs { source, .. } => source.to_string(),
            e => e.to_string(),
        })
    });
    let links = links
        .as_ref()
        .as_ref()
        .map_err(|e| ctx.invalid(e.clone()))?;
    for (link, target) in links {
        let by_name = link
            .file_name()
            .is_some_and(|n| names.contains(n.to_string_lossy().as_ref()));
        let base = target
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !is_null(target) && (by_name || names.contains(base.as_str())) {
            out.push((link.clone(), target.clone()));
        }
    }
    Ok(out)
}

/// Every symlink in `/etc/systemd/system` and the directories right below it,
/// with its target. `/etc/systemd/system` is opened once without following a
/// symlink, its subdirectories from its descriptor (`O_NOFOLLOW`), and each
/// link read through its directory's descriptor, so no path is walked from the
/// root twice; a plan reads them once, however many rules disable units
/// ([`disable_links`]). Names come from listing the directory; only links of
/// the opened directories themselves are ever read.
fn etc_links(ctx: &Ctx) -> Result<Vec<(PathBuf, PathBuf)>, ModuleError> {
    let root = &ctx.host.root;
    let etc = Path::new(ETC);
    let Some(top) = fs::open_dir(root, etc).map_err(ctx.fs())? else {
        return Ok(Vec::new());
    };
    let sys = |path: PathBuf, op: &'static str| {
        move |errno| {
            ctx.fs()(fs::FsError::Sys {
                path: path.clone(),
                op,
                errno,
            })
        }
    };
    let mut out = Vec::new();
    let mut dirs = vec![(etc.to_path_buf(), top)];
    let mut i = 0;
    while i < dirs.len() {
        let (dir, fd) = (&dirs[i].0, &dirs[i].1);
        let Ok(list) = fs::names(fd, dir) else {
            i += 1;
            continue;
        };
        let mut below = Vec::new();
        for name in list {
            let path = dir.join(&name);
            if i == 0 {
                match openat(
                    fd.as_fd(),
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(sub) => {
                        below.push((path, sub));
                        continue;
                    }
                    // Not a directory: a link (or a file) of the top one.
                    Err(Errno::ENOTDIR | Errno::ELOOP) => {}
                    Err(Errno::ENOENT) => continue,
                    Err(e) => return Err(sys(path, "open directory")(e)),
                }
            }
            match nix::fcntl::readlinkat(fd.as_fd(), name.as_os_str()) {
                Ok(t) => out.push((path, PathBuf::from(t))),
                Err(Errno::ENOENT | Errno::EINVAL) => {}
                Err(e) => return Err(sys(path, "readlink")(e)),
            }
        }
        dirs.extend(below);
        i += 1;
    }
    // Listing order is the file system's: the plan's is by path.
    out.sort();
    Ok(out)
}

/// The link at `path` now, for a symlink operation's precondition.
fn link_now(ctx: &Ctx, path: &Path) -> Result<Observed, ModuleError> {
    match ctx.host.lstat(path).map_err(ctx.fs())?.map(|m| m.kind) {
        None => Ok(Observed::Absent),
        Some(Kind::Symlink) => Ok(Observed::Link {
            target: fs::read_link(&ctx.host.root, path)
                .map_err(ctx.fs())?
                .unwrap_or_default(),
        }),
        Some(_) => Err(ctx.invalid(format!(
            "{} is not a symlink; harden only makes and removes the links systemctl would",
            path.display()
        ))),
    }
}

fn reload() -> Handler {
    Handler::DaemonReload
}

/// Plans one link: made (or retargeted) to `target`, or removed (`None`).
fn plan_link(
    ctx: &Ctx,
    link: &Path,
    target: Option<&Path>,
    why: &str,
    out: &mut Out,
) -> Result<(), ModuleError> {
    let now = link_now(ctx, link)?;
    let summary = match (&now, target) {
        (Observed::Absent, None) => return Ok(()),
        (Observed::Absent, Some(t)) => format!("{why}: create symlink -> {}", t.display()),
        (Observed::Link { target: old }, Some(t)) => {
            // Any link naming the same unit file counts (systemctl accepts
            // `/usr/lib/...` for `/lib/...`): only a link to another one moves.
            if old.file_name() == t.file_name() && !is_null(old) {
                return Ok(());
            }
            format!(
                "{why}: retarget symlink {} -> {}",
                old.display(),
                t.display()
            )
        }
        (Observed::Link { target: old }, None) => {
            format!("{why}: remove symlink (-> {})", old.display())
        }
        (Observed::File { .. } | Observed::Dir, _) => unreachable!("link_now refuses these"),
    };
    let mut c = ctx.change(link.display().to_string(), summary);
    if target.is_some() {
        c.ops = missing_parents(ctx, link)?;
    }
    c.ops.push(Op::Symlink(Symlink {
        path: link.to_path_buf(),
        target: target.map(Path::to_path_buf),
        expect: now,
    }));
    c.handlers.push(reload());
    out.changes.push(c);
    Ok(())
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let name = unit_name(&p.name).map_err(|e| ctx.invalid(e))?;
    if p.masked == Some(true) && p.enabled == Some(true) {
        return Err(ctx.invalid(format!(
            "{name}: a masked unit cannot be enabled (masked: true with enabled: true)"
        )));
    }
    if p.masked == Some(true) && p.state == Some(State::Started) {
        return Err(ctx.invalid(format!(
            "{name}: a masked unit cannot be started (masked: true with state: started)"
        )));
    }
    let unit = find_unit(ctx, &name)?;
    let refused = match (p.enabled, p.masked, p.state) {
        (Some(true), ..) => unit.vendor_mask("enabled"),
        (_, Some(false), _) => {
            unit.vendor_mask("unmasked (systemctl unmask removes only the administrator's mask)")
        }
        (.., Some(State::Started)) => unit.vendor_mask("started"),
        _ => None,
    };
    if let Some(why) = refused {
        return Err(ctx.invalid(why));
    }
    let etc = unit.etc.clone();
    let masked_now = matches!(&etc, EtcEntry::Link(t) if is_null(t)) || unit.vendor_masked;
    let will_be_masked = p.masked.unwrap_or(masked_now);
    if will_be_masked && p.enabled == Some(true) {
        return Err(ctx.invalid(format!(
            "{name} is masked: set `masked: false` to enable it"
        )));
    }
    match p.masked {
        Some(true) => match &etc {
            EtcEntry::None if unit.vendor_masked => {}
            EtcEntry::None => plan_link(
                ctx,
                &Path::new(ETC).join(&name),
                Some(Path::new("/dev/null")),
                "mask",
                out,
            )?,
            EtcEntry::Link(t) if is_null(t) => {}
            _ => {
                return Err(ctx.invalid(format!(
                    "{ETC}/{name} is a unit file or a link of the administrator's; harden will not replace it with a mask"
                )));
            }
        },
        Some(false) if masked_now => {
            plan_link(ctx, &Path::new(ETC).join(&name), None, "unmask", out)?;
        }
        _ => {}
    }
    match p.enabled {
        Some(true) => {
            if unit.install.is_empty() {
                out.notices.push(ctx.notice(
                    NoticeLevel::Info,
                    format!("{name} has no [Install] section (static): nothing to enable"),
                ));
            }
            for u in with_also(ctx, unit.clone())? {
                for (link, target) in enable_links(&u) {
                    plan_link(
                        ctx,
                        &link,
                        Some(&target),
                        &format!("enable {}", u.name),
                        out,
                    )?;
                }
            }
        }
        Some(false) => {
            let mut done = BTreeSet::new();
            for u in with_also(ctx, unit.clone())? {
                for (link, _) in disable_links(ctx, &u)? {
                    if done.insert(link.clone()) {
                        plan_link(ctx, &link, None, &format!("disable {}", u.name), out)?;
                    }
                }
            }
        }
        None => {}
    }
    if let Some(state) = p.state {
        plan_state(ctx, &name, state, out);
    }
    Ok(())
}

/// Start or stop on the running system, when systemd there says it differs.
fn plan_state(ctx: &Ctx, name: &str, state: State, out: &mut Out) {
    let want = state == State::Started;
    match service::is_active(ctx.host, name) {
        Some(active) if active == want => {}
        Some(_) => {
            let (action, verb) = if want {
                (Verb::Start, "start")
            } else {
                (Verb::Stop, "stop")
            };
            let mut c = ctx.change(format!("unit {name}"), format!("{verb} {name}"));
            c.handlers.push(reload());
            c.handlers.push(Handler::systemctl(action, name));
            out.changes.push(c);
        }
        None => {
            let why = if ctx.host.is_live() {
                "no running init to ask".to_string()
            } else {
                format!("root {} is not the running system", ctx.host.root.display())
            };
            out.notices.push(ctx.notice(
                NoticeLevel::Info,
                format!("{name}: state not managed ({why}); start/stop skipped"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_get_their_type() {
        assert_eq!(unit_name("ssh").unwrap(), "ssh.service");
        assert_eq!(
            unit_name("ctrl-alt-del.target").unwrap(),
            "ctrl-alt-del.target"
        );
        assert_eq!(unit_name("epmd.socket").unwrap(), "epmd.socket");
        assert_eq!(unit_name("x.y").unwrap(), "x.y.service");
        assert!(unit_name("../etc").is_err());
        assert!(unit_name("a/b").is_err());
        assert!(unit_name("getty@.service").is_err());
        assert!(unit_name("").is_err());
    }

    #[test]
    fn install_sections_accumulate_and_reset() {
        let text = "[Unit]\nDescription=x\n\n[Install]\nWantedBy=multi-user.target\n\
                    WantedBy=graphical.target sockets.target\nAlias=sshd.service\n\
                    RequiredBy=\nRequiredBy=a.target\nAlso=epmd.socket\n";
        let i = Install::parse(text).unwrap();
        assert_eq!(
            i.wanted_by,
            ["multi-user.target", "graphical.target", "sockets.target"]
        );
        assert_eq!(i.required_by, ["a.target"]);
        assert_eq!(i.alias, ["sshd.service"]);
        assert_eq!(i.also, ["epmd.socket"]);
        let reset = Install::parse("[Install]\nWantedBy=a.target\nWantedBy=\n").unwrap();
        assert!(reset.is_empty());
        assert!(Install::parse("[Install]\nWantedBy=%i.target\n").is_err());
        assert!(
            Install::parse("[Service]\nExecStart=/bin/true\n")
                .unwrap()
                .is_empty()
        );
    }
}
