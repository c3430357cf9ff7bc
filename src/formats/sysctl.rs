//! `sysctl.conf` / `sysctl.d` files: `key = value` lines, `#` and `;` comments, an
//! optional leading `-` (ignore errors). Keys may be written with `.` or `/`;
//! both spell the same parameter. Parse and render are lossless.

/// A parsed sysctl file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlFile {
    lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// Kept verbatim (comments, blanks, anything not `key = value`).
    Other(String),
    Setting {
        raw: String,
        key: String,
        value: String,
        eol: String,
    },
}

/// The canonical spelling of a key: dots, no leading `-`.
#[must_use]
pub fn normalise_key(key: &str) -> String {
    let key = key.trim().trim_start_matches('-');
    if key.contains('/') {
        key.trim_start_matches('/').replace('/', ".")
    } else {
        key.to_string()
    }
}

/// Whether `key` is a well-formed kernel parameter name: letters, digits, `_`, `-`
/// and `.` or `/` separators, with no empty or `..` part (so it never leaves
/// `/proc/sys` as a path).
#[must_use]
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        && !key.split(['.', '/']).any(|p| p.is_empty() || p == "..")
}

/// The `/proc/sys` relative path of a key.
#[must_use]
pub fn proc_path(key: &str) -> String {
    let key = key.trim().trim_start_matches('-');
    if key.contains('/') {
        key.trim_start_matches('/').to_string()
    } else {
        key.replace('.', "/")
    }
}

/// Values compared the way the kernel prints them (whitespace-separated fields).
#[must_use]
pub fn normalise_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl SysctlFile {
    /// Parses text; never fails (lines it does not understand are kept verbatim).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let lines = text
            .split_inclusive('\n')
            .map(|l| {
                let (body, eol) = split_eol(l);
                let t = body.trim();
                if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                    return Line::Other(l.to_string());
                }
                match body.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => Line::Setting {
                        raw: body.to_string(),
                        key: normalise_key(k),
                        value: v.trim().to_string(),
                        eol: eol.to_string(),
                    },
                    _ => Line::Other(l.to_string()),
                }
            })
            .collect();
        Self { lines }
    }

    /// The text, byte for byte what was parsed plus any edits.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            match l {
                Line::Other(t) => s.push_str(t),
                Line::Setting { raw, eol, .. } => {
                    s.push_str(raw);
                    s.push_str(eol);
                }
            }
        }
        s
    }

    /// The effective value of `key` (the last assignment wins, as `sysctl -p` does).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = normalise_key(key);
        self.lines.iter().rev().find_map(|l| match l {
            Line::Setting { key: k, value, .. } if *k == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// Makes `key` have `value`: edits the last assignment in place (earlier ones
    /// are overridden by it), or appends `key = value`.
    pub fn set(&mut self, key: &str, value: &str) {
        let norm = normalise_key(key);
        let pos = self
            .lines
            .iter()
            .rposition(|l| matches!(l, Line::Setting { key: k, .. } if *k == norm));
        if let Some(i) = pos {
            if let Line::Setting { raw, value: v, .. } = &mut self.lines[i] {
                if normalise_value(v) == normalise_value(value) {
                    return;
                }
                let (lhs, _) = raw.split_once('=').unwrap_or((raw.as_str(), ""));
                let spaced = lhs.ends_with(' ');
                *raw = format!("{lhs}={}{value}", if spaced { " " } else { "" });
                *v = value.to_string();
            }
            return;
        }
        if let Some(Line::Other(t)) = self.lines.last_mut()
            && !t.ends_with('\n')
        {
            t.push('\n');
        }
        if let Some(Line::Setting { eol, .. }) = self.lines.last_mut()
            && eol.is_empty()
        {
            eol.push('\n');
        }
        self.lines.push(Line::Setting {
            raw: format!("{norm} = {value}"),
            key: norm,
            value: value.to_string(),
            eol: "\n".into(),
        });
    }
}

fn split_eol(line: &str) -> (&str, &str) {
    if let Some(b) = line.strip_suffix("\r\n") {
        (b, "\r\n")
    } else if let Some(b) = line.strip_suffix('\n') {
        (b, "\n")
    } else {
        (line, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edits_in_place_and_appends() {
        let text = "# hardening\nnet.ipv4.ip_forward=1\n; old\nkernel/kptr_restrict = 0\n";
        let mut f = SysctlFile::parse(text);
        assert_eq!(f.render(), text);
        assert_eq!(f.get("net/ipv4/ip_forward"), Some("1"));
        f.set("net.ipv4.ip_forward", "0");
        f.set("kernel.kptr_restrict", "2");
        f.set("kernel.dmesg_restrict", "1");
        assert_eq!(
            f.render(),
            "# hardening\nnet.ipv4.ip_forward=0\n; old\nkernel/kptr_restrict = 2\nkernel.dmesg_restrict = 1\n"
        );
        let again = f.render();
        f.set("kernel.dmesg_restrict", "1");
        assert_eq!(f.render(), again);
    }

    #[test]
    fn appends_after_missing_final_newline() {
        let mut f = SysctlFile::parse("a.b = 1");
        f.set("c.d", "2");
        assert_eq!(f.render(), "a.b = 1\nc.d = 2\n");
    }

    #[test]
    fn proc_paths() {
        assert_eq!(proc_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
        assert_eq!(
            proc_path("net/ipv4/conf/eth0.100/rp_filter"),
            "net/ipv4/conf/eth0.100/rp_filter"
        );
        assert_eq!(normalise_value("32768\t60999"), "32768 60999");
    }

    proptest! {
        #[test]
        fn round_trip(lines in proptest::collection::vec("[ #;a-z0-9._/=-]{0,30}(\r?\n)?", 0..20)) {
            let text: String = lines.concat();
            prop_assert_eq!(SysctlFile::parse(&text).render(), text);
        }

        #[test]
        fn set_then_get(key in "[a-z]{1,5}(\\.[a-z_]{1,5}){1,3}", value in "[0-9]{1,4}") {
            let mut f = SysctlFile::parse("# x\nkernel.a = 1\n");
            f.set(&key, &value);
            prop_assert_eq!(f.get(&key), Some(value.as_str()));
            let once = f.render();
            f.set(&key, &value);
            prop_assert_eq!(f.render(), once);
        }
    }
}
