//! `kernel_module`: kernel modules kept from loading, by one `modprobe.d` drop-in
//! harden owns: `blacklist NAME` stops loading by alias (a device or file system
//! asking for it), `install NAME /bin/false` makes an explicit `modprobe NAME` fail
//! too. On the running system it notes the modules that are loaded now, read from
//! `/proc/modules` through the [`Ctx`]: the drop-in keeps them from loading again,
//! but harden never unloads a module (it may be in use). Names are checked when the
//! playbook is read. This module only plans: it never writes and runs nothing.

use std::fmt::Write;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::{Ctx, ModuleError, Out};
use crate::plan::NoticeLevel;

/// Parameters of `kernel_module:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Modules to keep from loading, e.g. `cramfs`, `usb-storage`.
    #[serde(deserialize_with = "module_names")]
    pub disable: Vec<String>,
    /// The drop-in (default `/etc/modprobe.d/harden.conf`).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// The longest module name the kernel accepts (`MODULE_NAME_LEN` less the NUL).
const MAX_NAME: usize = 55;

/// The name as the kernel lists it: modprobe treats `-` and `_` alike.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// Reads module names, refusing an empty list, a name modprobe would not take as
/// one word (line breaks included) and a name given twice, where the playbook says it.
///
/// # Errors
/// As above.
fn module_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    let names = Vec::<String>::deserialize(d)?;
    if names.is_empty() {
        return Err(D::Error::custom("`disable` lists no module"));
    }
    for (i, name) in names.iter().enumerate() {
        let word = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if name.is_empty() || name.len() > MAX_NAME || !word {
            return Err(D::Error::custom(format!(
                "`{}` is not a kernel module name (letters, digits, `_`, `-`, at most {MAX_NAME})",
                name.escape_debug()
            )));
        }
        if names[..i].iter().any(|n| canonical(n) == canonical(name)) {
            return Err(D::Error::custom(format!("`{name}` is listed twice")));
        }
    }
    Ok(names)
}

/// The drop-in's content.
fn render(names: &[String]) -> String {
    let mut out = String::from(
        "# Managed by harden: kernel modules kept from loading. `blacklist` stops\n\
         # loading by alias; `install ... /bin/false` makes `modprobe NAME` fail too.\n",
    );
    for name in names {
        let _ = writeln!(out, "blacklist {name}\ninstall {name} /bin/false");
    }
    out
}

/// The names among `names` that `/proc/modules` (its text) lists as loaded.
fn loaded_now<'a>(proc_modules: &str, names: &'a [String]) -> Vec<&'a str> {
    let loaded: Vec<String> = proc_modules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(canonical)
        .collect();
    names
        .iter()
        .filter(|n| loaded.contains(&canonical(n)))
        .map(String::as_str)
        .collect()
}

pub fn plan(ctx: &Ctx, p: &Params, out: &mut Out) -> Result<(), ModuleError> {
    let path = ctx.path_param(p.file.as_deref(), "file")?;
    if path.extension().is_none_or(|e| e != "conf") {
        return Err(ctx.invalid(format!(
            "{}: modprobe reads only files ending in .conf",
            path.display()
        )));
    }
    let after = render(&p.disable);
    let before = ctx.host.read(&path).map_err(ctx.fs())?;
    if let Some(mut c) = ctx.edit_change(&path, before.as_deref(), after.as_bytes(), "drop-in")? {
        c.summary = format!("{}: disable {}", c.summary, p.disable.join(", "));
        out.changes.push(c);
    }
    if !ctx.host.is_live() {
        out.notices.push(ctx.notice(
            NoticeLevel::Info,
            format!(
                "loaded modules not checked (root {} is not the running system)",
                ctx.host.root.display()
            ),
        ));
        return Ok(());
    }
    let proc_modules = std::path::Path::new("/proc/modules");
    match ctx.host.read(proc_modules) {
        Ok(Some(text)) => {
            for name in loaded_now(&String::from_utf8_lossy(&text), &p.disable) {
                out.notices.push(ctx.notice(
                    NoticeLevel::Warning,
                    format!(
                        "{name} is loaded now: the drop-in keeps it from loading again, but harden \
                         never unloads a module (it may be in use); `modprobe -r {name}` or a reboot does"
                    ),
                ));
            }
        }
        Ok(None) | Err(_) => out.notices.push(ctx.notice(
            NoticeLevel::Info,
            "cannot tell which modules are loaded now: /proc/modules is unreadable",
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct P {
        #[serde(deserialize_with = "module_names")]
        disable: Vec<String>,
    }

    fn names(yaml: &str) -> Result<Vec<String>, String> {
        serde_saphyr::from_str::<P>(yaml)
            .map(|p| p.disable)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_are_checked_when_read() {
        assert_eq!(
            names("disable: [cramfs, usb-storage, dccp]").unwrap(),
            ["cramfs", "usb-storage", "dccp"]
        );
        for bad in [
            "disable: []",
            "disable: [\"a b\"]",
            "disable: [\"cramfs\\ninstall sshd /bin/false\"]",
            "disable: [\"../x\"]",
            "disable: [\"\"]",
            "disable: [usb-storage, usb_storage]",
        ] {
            assert!(names(bad).is_err(), "{bad}");
        }
        assert!(names(&format!("disable: [{}]", "a".repeat(56))).is_err());
    }

    #[test]
    fn drop_in_blacklists_and_blocks_each_module() {
        let text = render(&["cramfs".into(), "usb-storage".into()]);
        assert!(text.ends_with(
            "blacklist cramfs\ninstall cramfs /bin/false\nblacklist usb-storage\ninstall usb-storage /bin/false\n"
        ));
        assert!(text.lines().filter(|l| !l.starts_with('#')).count() == 4);
    }

    #[test]
    fn loaded_modules_are_matched_with_dash_and_underscore_alike() {
        let proc_modules = "usb_storage 77824 1 uas, Live 0x0000000000000000\n\
                            cramfs 16384 0 - Live 0x0000000000000000\n";
        let want: Vec<String> = ["usb-storage", "squashfs", "cramfs"]
            .map(String::from)
            .to_vec();
        assert_eq!(loaded_now(proc_modules, &want), ["usb-storage", "cramfs"]);
        assert!(loaded_now("", &want).is_empty());
    }
}
