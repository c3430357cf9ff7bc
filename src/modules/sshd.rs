//! `sshd`: OpenSSH server settings managed by their *effective* value, with the
//! semantics of sshd itself: keywords are case-insensitive, the first value obtained
//! wins (lists such as `AllowUsers` and `Port` accumulate), `Include` is followed
//! (globs, relative paths against `/etc/ssh`) under the root, and `Match` blocks are
//! never edited. Each desired value is written in the main file *before* its first
//! `Include` (so it wins, and scanners reading only the main file see it), and
//! conflicting lines in included files (the classic `50-cloud-init.conf` with
//! `PasswordAuthentication yes`) are commented out; the plan says which.
//!
//! Candidates are checked with the real `sshd -t` in a private mount namespace (see
//! [`validator`] for how includes and host keys are made to resolve under `--root`).
//! An anti-lockout guard ([`guard`]) refuses plans that would shut out every way in.
//! This module only reads the host: files, and this machine's own `ssh -Q` for
//! the crypto preset (never a binary of a `--root`).

mod guard;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Ctx, ModuleError, Out, diff, missing_parents, observed};
use crate::formats::sshd_config::{Directive, SSH_DIR, SshdConfig, is_list_keyword};
use crate::host::Host;
use crate::host::facts::OsFamily;
use crate::host::runner::Cmd;
use crate::plan::VarValue;
use crate::plan::{Change, Handler, NoticeLevel, Op, SetMeta, Verb, WriteFile};

/// A setting's value: a scalar (`yes`, `3`, `sftp internal-sftp`) or a list.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Setting {
    One(VarValue),
    Many(Vec<VarValue>),
}

/// The crypto presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Crypto {
    /// curve25519/sntrup/ML-KEM key exchange, chacha20-poly1305 and AES-GCM/CTR,
    /// encrypt-then-MAC MACs, ed25519 and rsa-sha2 host keys.
    Modern,
}

/// Parameters of `sshd:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Keyword → value, e.g. `PermitRootLogin: "no"`, `AllowUsers: [alice, bob]`.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
    /// A crypto preset.
    #[serde(default)]
    pub crypto: Option<Crypto>,
    /// The main `sshd_config` (default `/etc/ssh/sshd_config`).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The main file's mode, e.g. `"0600"` (default: kept as it is).
    #[serde(default)]
    pub mode: Option<super::file::FileMode>,
    /// Drop the Diffie-Hellman group-exchange moduli under this many bits from
    /// `/etc/ssh/moduli` (e.g. 3072); the rest of the file stays as it is.
    #[serde(default)]
    pub moduli_min_bits: Option<u32>,
}

const MODULI: &str = "/etc/ssh/moduli";

/// `text` without the moduli under `min` bits, and how many were dropped and kept.
/// A moduli line is `time type tests tries size generator modulus`, where `size`
/// is the bit length less one (3071 for a 3072-bit group).
fn filter_moduli(text: &str, min: u32) -> (String, usize, usize) {
    let (mut out, mut dropped, mut kept) = (String::with_capacity(text.len()), 0, 0);
    for line in text.split_inclusive('\n') {
        let size = line
            .split_whitespace()
            .nth(4)
            .filter(|_| !line.trim_start().starts_with('#'))
            .and_then(|s| s.parse::<u32>().ok());
        match size {
            Some(bits) if bits.saturating_add(1) < min => dropped += 1,
            Some(_) => {
                kept += 1;
                out.push_str(line);
            }
            None => out.push_str(line),
        }
    }
    (out, dropped, kept)
}

/// The change that drops the small moduli, if any would go.
fn moduli_change(ctx: &Ctx, min: u32, handler: &Handler) -> Result<Option<Change>, ModuleError> {
    let path = Path::new(MODULI);
    let Some(before) = ctx.host.read(path).map_err(ctx.fs())? else {
        return Ok(None);
    };
    let text = String::from_utf8(before.clone())
        .map_err(|_| ctx.invalid(format!("{MODULI} is not text")))?;
    let (after, dropped, kept) = filter_moduli(&text, min);
    if dropped == 0 {
        return Ok(None);
    }
    if kept == 0 {
        return Err(ctx.invalid(format!(
            "moduli_min_bits {min}: {MODULI} has no group that large; regenerate it \
             (ssh-keygen -M generate) or lower the bound"
        )));
    }
    let meta = ctx.host.lstat(path).map_err(ctx.fs())?;
    let (mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
    let mut c = ctx.change(
        MODULI,
        format!("drop {dropped} group-exchange moduli under {min} bits ({kept} kept)"),
    );
    c.ops = vec![Op::WriteFile(WriteFile {
        path: path.to_path_buf(),
        content: after.into_bytes(),
        mode,
        uid,
        gid,
        expect: observed(Some(&before)),
        validators: Vec::new(),
    })];
    c.handlers = vec![handler.clone()];
    Ok(Some(c))
}

/// The `crypto: modern` lists, best first; filtered by what the installed OpenSSH
/// supports.
pub const MODERN: [(&str, &str, &[&str]); 4] = [
    (
        "KexAlgorithms",
        "kex",
        &[
            "mlkem768x25519-sha256",
            "sntrup761x25519-sha512",
            "sntrup761x25519-sha512@openssh.com",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
        ],
    ),
    (
        "Ciphers",
        "cipher",
        &[
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-ctr",
            "aes192-ctr",
            "aes128-ctr",
        ],
    ),
    (
        "MACs",
        "mac",
        &[
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "umac-128-etm@openssh.com",
        ],
    ),
    (
        "HostKeyAlgorithms",
        "HostKeyAlgorithms",
        &[
            "ssh-ed25519",
            "ssh-ed25519-cert-v01@openssh.com",
            "sk-ssh-ed25519@openssh.com",
            "sk-ssh-ed25519-cert-v01@openssh.com",
            "rsa-sha2-512",
            "rsa-sha2-512-cert-v01@openssh.com",
            "rsa-sha2-256",
            "rsa-sha2-256-cert-v01@openssh.com",
        ],
    ),
];

/// One config file of the include tree.
struct Loaded {
    path: PathBuf,
    before: Option<Vec<u8>>,
    cfg: SshdConfig,
}

/// The main file and everything it includes (global scope), in reading order.
struct Tree {
    files: Vec<Loaded>,
    /// (file index, ordinal of its `Include` directive) → included file indices.
    includes: HashMap<(usize, usize), Vec<usize>>,
    /// `Include` lines inside `Match` blocks (file, line): not followed for edits.
    match_includes: Vec<(PathBuf, usize)>,
}

/// The desired settings: keyword as given, arguments per value.
type Wanted = Vec<(String, Vec<String>)>;

/// Conflicts: per included file, the lines commented out; per setting, where.
type Neutralised = (BTreeMap<usize, Vec<String>>, BTreeMap<String, Vec<String>>);

/// Comments out global lines of included files that conflict with `wanted`.
fn neutralise(tree: &Tree, after: &mut [SshdConfig], wanted: &Wanted) -> Neutralised {
    let mut neutralised: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut per_setting: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, cfg) in after.iter_mut().enumerate().skip(1) {
        for (kw, vals) in wanted {
            let conflicting: Vec<(usize, String)> = cfg
                .global_values(kw)
                .into_iter()
                .filter(|d| conflicts(kw, vals, d))
                .map(|d| (d.line, format!("{} {}", d.keyword, d.args.join(" "))))
                .collect();
            if conflicting.is_empty() {
                continue;
            }
            cfg.comment_out_global_if(kw, |d| conflicts(kw, vals, d));
            for (line, text) in conflicting {
                neutralised
                    .entry(i)
                    .or_default()
                    .push(format!("`{text}` (line {line})"));
                per_setting
                    .entry(kw.clone())
                    .or_default()
                    .push(format!("{}:{line}", tree.files[i].path.display()));
            }
        }
    }
    (neutralised, per_setting)
}

/// The main file's summary: per setting, the line it lands on and what it overrides.
fn main_summary(
    wanted: &Wanted,
    landed: &[(String, String)],
    per_setting: &BTreeMap<String, Vec<String>>,
) -> String {
    let parts: Vec<String> = wanted
        .iter()
        .zip(landed)
        .map(|((kw, vals), (_, lines))| {
            let mut s = format!("{kw} {} (line {lines})", vals.join(" "));
            if let Some(n) = per_setting.get(kw) {
                let _ = write!(s, ", neutralises {}", n.join(", "));
            }
            s
        })
        .collect();
    format!("set before any Include: {}", parts.join("; "))
}

/// Each wanted value in the main file before its first `Include`; per keyword,
/// the lines it landed on.
fn set_in_main(
    ctx: &Ctx,
    main: &mut SshdConfig,
    wanted: &Wanted,
) -> Result<Vec<(String, String)>, ModuleError> {
    for (kw, vals) in wanted {
        main.set_global_at_top(kw, vals)
            .map_err(|e| ctx.invalid(format!("{kw}: {e}")))?;
    }
    Ok(wanted
        .iter()
        .map(|(kw, _)| {
            let lines: Vec<String> = main
                .global_values(kw)
                .iter()
                .map(|d| d.line.to_string())
                .collect();
            (kw.clone(), lines.join(","))
        })
        .collect())
}

/// `reload ssh` (Debian's unit name) or `reload sshd`.
fn reload_handler(host: &Host) -> Handler {
    let unit = if host.facts.os_family == OsFamily::Debian {
        "ssh"
    } else {
        "sshd"
    };
    Handler::systemctl(Verb::Reload, unit)
}

/// The change of the main file's mode alone, when its content is as wanted.
fn mode_change(ctx: &Ctx, main: &Path, want: Option<u32>) -> Result<Option<Change>, ModuleError> {
    let (Some(mode), Some(meta)) = (want, ctx.host.lstat(main).map_err(ctx.fs())?) else {
        return Ok(None);
    };
    if meta.mode == mode {
        return Ok(None);
    }
    let mut c = ctx.change(
        main.display().to_string(),
        format!("mode {:04o} -> {mode:04o}", meta.mode),
    );
    c.ops = vec![Op::SetMeta(SetMeta {
        path: main.to_path_buf(),
        mode: Some(mode),
        uid: None,
        gid: None,
        expect: (meta.mode, meta.uid, meta.gid),
    })];
    Ok(Some(c))
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let main = ctx.path_param(p.file.as_deref(), "file")?;
    let mut wanted = wanted_settings(ctx, p)?;
    if p.crypto == Some(Crypto::Modern) {
        modern_crypto(ctx, &mut wanted, out);
    }
    if wanted.is_empty() && p.mode.is_none() && p.moduli_min_bits.is_none() {
        return Err(ctx
            .invalid("nothing to manage: give `settings`, `crypto`, `mode` or `moduli_min_bits`"));
    }
    let tree = load_tree(ctx, &main)?;
    let mut after: Vec<SshdConfig> = tree.files.iter().map(|f| f.cfg.clone()).collect();

    let landed = set_in_main(ctx, &mut after[0], &wanted)?;

    // Included files: neutralise conflicting global lines.
    let (neutralised, per_setting) = neutralise(&tree, &mut after, &wanted);

    let changed: Vec<usize> = (0..after.len())
        .filter(|&i| tree.files[i].before.as_deref() != Some(after[i].render().as_bytes()))
        .collect();
    match_warnings(ctx, &tree, &wanted, out);
    let handler = reload_handler(ctx.host);
    if let Some(min) = p.moduli_min_bits {
        out.changes.extend(moduli_change(ctx, min, &handler)?);
    }
    let want_mode = p.mode.map(|m| m.0);
    if changed.is_empty() {
        // Only the main file's mode may be off.
        out.changes.extend(mode_change(ctx, &main, want_mode)?);
        return Ok(());
    }
    let check = validator::Check::new(ctx.host, &main, out, ctx)?;
    let texts: Vec<String> = changed.iter().map(|&i| after[i].render()).collect();
    let staged: Vec<&Path> = changed
        .iter()
        .map(|&i| tree.files[i].path.as_path())
        .collect();
    let validator = check.validator(ctx.host, &staged);
    for (k, &i) in changed.iter().enumerate() {
        let f = &tree.files[i];
        let text = texts[k].clone();
        let meta = ctx.host.lstat(&f.path).map_err(ctx.fs())?;
        let (mut mode, uid, gid) = meta.map_or((0o644, 0, 0), |m| (m.mode, m.uid, m.gid));
        if i == 0
            && let Some(m) = want_mode
        {
            mode = m;
        }
        let mut ops = if f.before.is_none() {
            missing_parents(ctx, &f.path)?
        } else {
            Vec::new()
        };
        ops.push(Op::WriteFile(WriteFile {
            path: f.path.clone(),
            content: text.clone().into_bytes(),
            mode,
            uid,
            gid,
            expect: observed(f.before.as_deref()),
            // One check sees the whole planned configuration: once is enough.
            validators: if k == 0 {
                vec![validator.clone()]
            } else {
                Vec::new()
            },
        }));
        let summary = if i == 0 {
            let mut s = main_summary(&wanted, &landed, &per_setting);
            if let Some(m) = meta.filter(|m| want_mode.is_some_and(|w| w != m.mode)) {
                let _ = write!(s, "; mode {:04o} -> {mode:04o}", m.mode);
            }
            s
        } else {
            format!(
                "neutralise {} (overridden by {})",
                neutralised
                    .get(&i)
                    .map(|v| v.join(", "))
                    .unwrap_or_default(),
                main.display()
            )
        };
        let mut c = ctx.change(f.path.display().to_string(), summary);
        c.diff = Some(diff(
            f.before.as_deref().unwrap_or_default(),
            text.as_bytes(),
            false,
        ));
        c.ops = ops;
        c.handlers = vec![handler.clone()];
        out.changes.push(c);
    }

    let before_cfgs: Vec<&SshdConfig> = tree.files.iter().map(|f| &f.cfg).collect();
    let after_cfgs: Vec<&SshdConfig> = after.iter().collect();
    let before = guard::Effective::of(&flatten(&tree, &before_cfgs));
    let after_eff = guard::Effective::of(&flatten(&tree, &after_cfgs));
    guard::check(ctx, &main, &before, &after_eff, out);
    Ok(())
}

/// The settings as keyword → arguments, plus checks on keywords.
fn wanted_settings(ctx: &Ctx, p: &Params) -> Result<Wanted, ModuleError> {
    let mut wanted: Wanted = Vec::new();
    for (kw, setting) in &p.settings {
        if kw.is_empty()
            || !kw.chars().all(|c| c.is_ascii_alphanumeric())
            || kw.eq_ignore_ascii_case("match")
            || kw.eq_ignore_ascii_case("include")
        {
            return Err(ctx.invalid(format!(
                "`{kw}` cannot be managed as a setting (not a keyword, or Match/Include)"
            )));
        }
        if wanted.iter().any(|(k, _)| k.eq_ignore_ascii_case(kw)) {
            return Err(ctx.invalid(format!(
                "`{kw}` is given twice (keywords are case-insensitive)"
            )));
        }
        let scalar = |v: &VarValue| match v {
            VarValue::Bool(true) => "yes".to_string(),
            VarValue::Bool(false) => "no".to_string(),
            other => other.to_string(),
        };
        let vals: Vec<String> = match setting {
            Setting::One(v) => scalar(v).split_whitespace().map(str::to_string).collect(),
            Setting::Many(vs) => vs.iter().map(scalar).collect(),
        };
        if vals.is_empty()
            || vals
                .iter()
                .any(|v| v.trim().is_empty() || v.contains(['\n', '\r']))
        {
            return Err(ctx.invalid(format!("{kw}: values must be non-empty single lines")));
        }
        if matches!(setting, Setting::Many(v) if v.len() > 1) && !is_list_keyword(kw) {
            return Err(ctx.invalid(format!(
                "{kw} takes one value (first one wins in sshd); give a string, not a list"
            )));
        }
        wanted.push((kw.clone(), vals));
    }
    Ok(wanted)
}

/// Whether line `d` (in an included file) disagrees with the desired value.
fn conflicts(kw: &str, vals: &[String], d: &Directive) -> bool {
    let lower = kw.to_ascii_lowercase();
    match lower.as_str() {
        // Duplicated subsystems are fatal; one in a drop-in would clash with ours.
        "subsystem" => d.args.first() == vals.first(),
        _ if is_list_keyword(kw) => !d.args.iter().all(|a| vals.contains(a)),
        _ => {
            d.args.len() != vals.len()
                || d.args
                    .iter()
                    .zip(vals)
                    .any(|(a, b)| !a.eq_ignore_ascii_case(b))
        }
    }
}

/// Adds the `crypto: modern` lists for keywords the settings do not give,
/// filtered by this machine's `ssh -Q` on the running system. Under `--root`
/// nothing from the root runs at plan time: the lists are filtered by this
/// machine's `ssh -Q` when it has one (the root's own `sshd -t` then checks the
/// result, confined, before install), unfiltered otherwise; the plan says which.
fn modern_crypto(ctx: &Ctx, wanted: &mut Wanted, out: &mut Out) {
    let ssh = crate::host::facts::find_binary(Path::new("/"), "ssh");
    let mut unfiltered = Vec::new();
    for (kw, query, list) in MODERN {
        if wanted.iter().any(|(k, _)| k.eq_ignore_ascii_case(kw)) {
            continue;
        }
        let supported = ssh.as_ref().and_then(|ssh| {
            let cmd = Cmd::new([ssh.as_os_str(), "-Q".as_ref(), query.as_ref()]);
            ctx.host
                .runner
                .run(&cmd)
                .ok()
                .filter(crate::host::runner::Output::success)
                .map(|o| o.stdout.lines().map(str::to_string).collect::<Vec<_>>())
        });
        let algs: Vec<&str> = match &supported {
            Some(s) => list
                .iter()
                .copied()
                .filter(|a| s.iter().any(|x| x == a))
                .collect(),
            None => list.to_vec(),
        };
        if supported.is_none() {
            unfiltered.push(format!("{kw} (`ssh -Q {query}`)"));
        }
        if algs.is_empty() {
            out.notices.push(ctx.notice(
                NoticeLevel::Unsupported,
                format!("{kw}: the installed OpenSSH supports none of the modern algorithms"),
            ));
            continue;
        }
        wanted.push((kw.to_string(), vec![algs.join(",")]));
    }
    if !unfiltered.is_empty() {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "no ssh binary on this machine to ask: the built-in modern lists are not filtered for {}",
                unfiltered.join(", ")
            ),
        ));
    } else if !ctx.host.is_live() && ssh.is_some() {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            "the modern lists are filtered by this machine's `ssh -Q`, not the root's (plan runs nothing from a root); the root's sshd -t checks them before install",
        ));
    }
}

/// Reads and parses one config file.
fn load(ctx: &Ctx, path: &Path) -> Result<Loaded, ModuleError> {
    let before = ctx.read_planned(path)?;
    let text = before
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let cfg = SshdConfig::parse(&text).map_err(|e| {
        ctx.invalid(format!(
            "{}:{}: {} (fix the file first)",
            path.display(),
            e.line,
            e.message
        ))
    })?;
    Ok(Loaded {
        path: path.to_path_buf(),
        before,
        cfg,
    })
}

/// Loads the main file and, recursively, every file its global `Include`s name.
fn load_tree(ctx: &Ctx, main: &Path) -> Result<Tree, ModuleError> {
    let mut tree = Tree {
        files: vec![load(ctx, main)?],
        includes: HashMap::new(),
        match_includes: Vec::new(),
    };
    let mut queue = vec![(0usize, 0usize)];
    while let Some((idx, depth)) = queue.pop() {
        if depth > 16 {
            return Err(ctx.invalid(format!(
                "{}: Include nested too deeply",
                tree.files[idx].path.display()
            )));
        }
        let incs = tree.files[idx].cfg.includes();
        for (ord, inc) in incs.iter().enumerate() {
            if !matches!(inc.scope, crate::formats::sshd_config::Scope::Global) {
                tree.match_includes
                    .push((tree.files[idx].path.clone(), inc.line));
                continue;
            }
            let mut targets = Vec::new();
            for pat in inc.resolved_patterns() {
                for path in ctx.host.glob(&pat) {
                    let i = if let Some(i) = tree.files.iter().position(|f| f.path == path) {
                        i
                    } else {
                        tree.files.push(load(ctx, &path)?);
                        queue.push((tree.files.len() - 1, depth + 1));
                        tree.files.len() - 1
                    };
                    targets.push(i);
                }
            }
            tree.includes.insert((idx, ord), targets);
        }
    }
    Ok(tree)
}

/// The ports sshd listens on according to its effective configuration under the
/// root (`Port` lines accumulate across includes, a `ListenAddress` with a port adds
/// it), 22 when none is set or there is no `sshd_config`. Files are read as the
/// earlier tasks of the plan leave them, so an `sshd` task moving the port before
/// the `firewall` task counts. Used by the firewall's anti-lockout guard.
///
/// # Errors
/// When a config file is unreadable or does not parse.
pub fn effective_ports(ctx: &Ctx) -> Result<Vec<u16>, ModuleError> {
    let main = Path::new(SSH_DIR).join("sshd_config");
    if ctx.read_planned(&main)?.is_none() {
        return Ok(vec![22]);
    }
    let tree = load_tree(ctx, &main)?;
    let cfgs: Vec<&SshdConfig> = tree.files.iter().map(|f| &f.cfg).collect();
    let mut ports = Vec::new();
    for d in flatten(&tree, &cfgs) {
        let Some(arg) = d.args.first() else { continue };
        let port = match d.keyword_lower.as_str() {
            "port" => arg.parse().ok(),
            "listenaddress" => match arg.rsplit_once(':') {
                Some((host, p)) if host.ends_with(']') || !host.contains(':') => p.parse().ok(),
                _ => None,
            },
            _ => None,
        };
        if let Some(p) = port
            && !ports.contains(&p)
        {
            ports.push(p);
        }
    }
    if ports.is_empty() {
        ports.push(22);
    }
    Ok(ports)
}

/// The global directives in the order sshd reads them, following includes.
fn flatten<'a>(tree: &Tree, cfgs: &[&'a SshdConfig]) -> Vec<&'a Directive> {
    fn walk<'a>(
        tree: &Tree,
        cfgs: &[&'a SshdConfig],
        idx: usize,
        depth: usize,
        out: &mut Vec<&'a Directive>,
    ) {
        if depth > 16 {
            return;
        }
        let mut ord = 0;
        for d in cfgs[idx].directives() {
            if d.keyword_lower == "include" {
                if d.is_global()
                    && let Some(targets) = tree.includes.get(&(idx, ord))
                {
                    for &t in targets {
                        walk(tree, cfgs, t, depth + 1, out);
                    }
                }
                ord += 1;
            } else if d.is_global() {
                out.push(d);
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, cfgs, 0, 0, &mut out);
    out
}

/// Warns about `Match` blocks that set a managed keyword: they are left alone.
fn match_warnings(ctx: &Ctx, tree: &Tree, wanted: &Wanted, out: &mut Out) {
    for f in &tree.files {
        for d in f.cfg.directives() {
            if d.is_global() {
                continue;
            }
            if let Some((kw, vals)) = wanted
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&d.keyword))
                && conflicts(kw, vals, d)
            {
                out.notices.push(ctx.notice(
                    NoticeLevel::Warning,
                    format!(
                        "{}:{}: `{} {}` inside a Match block applies to matching connections; Match blocks are not edited",
                        f.path.display(),
                        d.line,
                        d.keyword,
                        d.args.join(" ")
                    ),
                ));
            }
        }
    }
    for (path, line) in &tree.match_includes {
        out.notices.push(ctx.notice(
            NoticeLevel::Warning,
            format!(
                "{}:{line}: Include inside a Match block is not followed",
                path.display()
            ),
        ));
    }
}

/// `fnmatch`-style matching of one path component, with sshd's hidden-file
/// rule: a name starting with `.` matches only a pattern starting with `.`.
#[must_use]
pub fn wild_match(pat: &str, name: &str) -> bool {
    (pat.starts_with('.') || !name.starts_with('.')) && crate::host::glob::matches(pat, name)
}

pub mod validator {
    //! How candidates are checked with the real `sshd -t`, meaningfully even under
    //! `--root`: a staged check ([`crate::engine::validate`]) with a copy of the
    //! root's `/etc/ssh` (and any planned file outside it) holding every planned
    //! file, so `Include /etc/ssh/sshd_config.d/*.conf` reads the root's drop-ins
    //! as the plan leaves them, never the machine's, and the main file is checked:
    //! the engine validates one candidate at a time, but each check sees the whole
    //! planned configuration (a `Subsystem` moved from a drop-in to the main file
    //! is valid only with both edits). `/run/sshd` is a private tmpfs. When the
    //! root has no host keys (a fresh image, a test tree), a throw-away ed25519
    //! key stands in (`-o HostKey=`; sshd -t fails with "no hostkeys available"
    //! otherwise).
    //!
    //! Under `--root` the binary is the root's own `sshd`, confined, or this
    //! machine's on the staged copy (confined too); the plan says which.

    use std::path::{Path, PathBuf};

    use crate::host::Host;
    use crate::host::tools;
    use crate::modules::{Ctx, ModuleError, Out};
    use crate::plan::{self, Accept, NoticeLevel, Stage, Validator};

    use super::SSH_DIR;

    /// Where the throw-away host key sits inside the sandbox.
    const HOSTKEY: &str = "/run/harden/ssh_host_ed25519_key";

    /// The validation setup for one plan.
    pub struct Check {
        main: PathBuf,
        /// Add a throw-away host key.
        hostkey: bool,
    }

    impl Check {
        /// Says in the plan how candidates will be checked.
        ///
        /// # Errors
        /// When there is no `sshd` to check with (the rule fails).
        pub fn new(
            host: &Host,
            main: &Path,
            out: &mut Out,
            ctx: &Ctx,
        ) -> Result<Self, ModuleError> {
            let hostkey = !["ed25519", "ecdsa", "rsa"].iter().any(|t| {
                matches!(
                    host.lstat(&Path::new(SSH_DIR).join(format!("ssh_host_{t}_key"))),
                    Ok(Some(m)) if m.kind == crate::host::fs::Kind::File
                )
            });
            let check = Self {
                main: main.to_path_buf(),
                hostkey,
            };
            let mut msg = tools::describe(host, &check.command("-t", main))
                .map_err(|e| ctx.invalid(e.to_string()))?;
            if hostkey {
                msg.push_str("; the root has no host keys, a throw-away key stands in");
            }
            out.notices.push(ctx.notice(NoticeLevel::Info, msg));
            Ok(check)
        }

        fn command(&self, mode: &str, target: &Path) -> plan::Check {
            let mut args = vec![mode.to_string(), "-f".into(), target.display().to_string()];
            if self.hostkey {
                args.extend(["-o".into(), format!("HostKey={HOSTKEY}")]);
            }
            plan::Check {
                tool: "sshd".into(),
                args,
                accept: Accept::Exit,
            }
        }

        /// The validator of the candidates `files` (the main file first): the
        /// root's `/etc/ssh` and every planned file are staged, and the main
        /// file is checked (the candidate itself when there is no main file).
        #[must_use]
        pub fn validator(&self, host: &Host, files: &[&Path]) -> Validator {
            let mut trees = vec![PathBuf::from(SSH_DIR)];
            for path in files {
                if !path.starts_with(SSH_DIR) && !trees.iter().any(|t| t == path) {
                    trees.push(path.to_path_buf());
                }
            }
            if !self.main.starts_with(SSH_DIR) && !trees.contains(&self.main) {
                trees.push(self.main.clone());
            }
            let main_there = files.contains(&self.main.as_path())
                || matches!(host.lstat(&self.main), Ok(Some(_)));
            let target = if main_there {
                self.main.clone()
            } else {
                PathBuf::from("%s")
            };
            Validator::Staged {
                files: Stage {
                    trees,
                    scratch: vec![PathBuf::from("/run/sshd")],
                    host_key: self.hostkey.then(|| PathBuf::from(HOSTKEY)),
                    ..Stage::default()
                },
                check: self.command("-t", &target),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(wild_match("*.conf", "50-cloud-init.conf"));
        assert!(!wild_match(
            "*.conf",
            ".harden.x.50-cloud-init.conf.candidate"
        ));
        assert!(!wild_match("*.conf", "a.conf.bak"));
        assert!(wild_match("[0-9]?-*.conf", "50-x.conf"));
        assert!(!wild_match("[!0-9]*", "5x"));
    }

    fn dir(line: &str) -> Directive {
        SshdConfig::parse(line)
            .unwrap()
            .directives()
            .next()
            .unwrap()
            .clone()
    }

    #[test]
    fn conflict_rules() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert!(conflicts(
            "PasswordAuthentication",
            &v(&["no"]),
            &dir("PasswordAuthentication yes")
        ));
        assert!(!conflicts(
            "PasswordAuthentication",
            &v(&["no"]),
            &dir("passwordauthentication NO")
        ));
        assert!(conflicts(
            "AllowUsers",
            &v(&["alice"]),
            &dir("AllowUsers alice bob")
        ));
        assert!(!conflicts(
            "AllowUsers",
            &v(&["alice", "bob"]),
            &dir("AllowUsers bob")
        ));
        assert!(conflicts(
            "Subsystem",
            &v(&["sftp", "internal-sftp"]),
            &dir("Subsystem sftp internal-sftp")
        ));
        assert!(!conflicts(
            "Subsystem",
            &v(&["sftp", "internal-sftp"]),
            &dir("Subsystem other /x")
        ));
    }
}
