//! `/etc/fstab`, losslessly: the text is kept as lines, and an entry's options
//! field is replaced in place (its byte span), so comments, blank lines, spacing
//! and every other line survive byte for byte. Fields are whitespace-separated;
//! mount points are compared after decoding fstab's octal escapes (`\040` for a
//! space). Lines that are not entries (comments, blanks, lines with fewer than
//! two fields) are carried as they are. Text only: no file system, no commands.

use std::ops::Range;

/// One entry: the line it sits on and the byte spans of its fields in that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    fields: Vec<Range<usize>>,
}

/// A parsed fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fstab {
    /// Lines with their terminators (`split_inclusive('\n')`).
    lines: Vec<String>,
}

/// `\NNN` octal escapes decoded (as mount(8) and libmount read them).
#[must_use]
pub fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A field for an fstab line: spaces, tabs, newlines and backslashes escaped.
#[must_use]
pub fn escape(field: &str) -> String {
    let mut s = String::new();
    for c in field.chars() {
        match c {
            ' ' => s.push_str("\\040"),
            '\t' => s.push_str("\\011"),
            '\n' => s.push_str("\\012"),
            '\\' => s.push_str("\\134"),
            c => s.push(c),
        }
    }
    s
}

/// The byte spans of the whitespace-separated fields of `line` (terminator
/// excluded), or `None` for comments and blank lines.
fn fields(line: &str) -> Option<Vec<Range<usize>>> {
    let body = line.trim_end_matches(['\n', '\r']);
    let trimmed = body.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in body.char_indices() {
        match (c == ' ' || c == '\t', start) {
            (true, Some(s)) => {
                spans.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push(s..body.len());
    }
    Some(spans)
}

impl Fstab {
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self {
            lines: text.split_inclusive('\n').map(str::to_string).collect(),
        }
    }

    #[must_use]
    pub fn render(&self) -> String {
        self.lines.concat()
    }

    /// The entries (lines with at least a source and a mount point).
    #[must_use]
    pub fn entries(&self) -> Vec<Entry> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(line, l)| {
                fields(l)
                    .filter(|f| f.len() >= 2)
                    .map(|fields| Entry { line, fields })
            })
            .collect()
    }

    /// Field `i` of an entry (0 source, 1 mount point, 2 type, 3 options, ...).
    #[must_use]
    pub fn field(&self, e: &Entry, i: usize) -> Option<&str> {
        e.fields.get(i).map(|r| &self.lines[e.line][r.clone()])
    }

    /// The entries whose decoded mount point is `mountpoint` (a trailing `/`
    /// ignored, as mount does: `/srv/` is `/srv`).
    #[must_use]
    pub fn find(&self, mountpoint: &str) -> Vec<Entry> {
        let norm = |p: &str| {
            let t = p.trim_end_matches('/');
            if t.is_empty() && p.starts_with('/') {
                "/".to_string()
            } else {
                t.to_string()
            }
        };
        let want = norm(mountpoint);
        self.entries()
            .into_iter()
            .filter(|e| self.field(e, 1).is_some_and(|m| norm(&unescape(m)) == want))
            .collect()
    }

    /// The entry's options (`defaults` when the field is missing).
    #[must_use]
    pub fn options(&self, e: &Entry) -> Vec<String> {
        self.field(e, 3)
            .unwrap_or("defaults")
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Replaces the entry's options field in place (appends it, tab-separated,
    /// when the line has only three fields). The entry's other bytes are kept.
    /// A missing type field is an error: fstab fields are positional.
    ///
    /// # Errors
    /// When the entry has no type field to put options after.
    pub fn set_options(&mut self, e: &Entry, options: &[String]) -> Result<(), String> {
        let new = options.join(",");
        let line = &mut self.lines[e.line];
        if let Some(r) = e.fields.get(3) {
            line.replace_range(r.clone(), &new);
            return Ok(());
        }
        let Some(r) = e.fields.get(2) else {
            return Err(format!("line {}: no filesystem type field", e.line + 1));
        };
        line.insert_str(r.end, &format!("\t{new}"));
        Ok(())
    }

    /// Appends a new entry line (a newline is added first if the text lacks one).
    pub fn append(&mut self, line: &str) {
        if let Some(last) = self.lines.last_mut()
            && !last.ends_with('\n')
        {
            last.push('\n');
        }
        self.lines.push(format!("{line}\n"));
    }
}

/// `current` with every option of `wanted` in force: an opposite (`exec` for
/// `noexec`, `noexec` for `exec`) or another value of the same key (`size=` for
/// `size=2G`) is removed, a missing option appended. Order is otherwise kept.
#[must_use]
pub fn ensure_options(current: &[String], wanted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = current.to_vec();
    for w in wanted {
        let key = |o: &str| o.split_once('=').map(|(k, _)| k.to_string());
        let opposite = w
            .strip_prefix("no")
            .map_or_else(|| format!("no{w}"), str::to_string);
        out.retain(|o| o == w || (*o != opposite && !(key(w).is_some() && key(o) == key(w))));
        if !out.iter().any(|o| o == w) {
            out.push(w.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEBIAN: &str = "# /etc/fstab: static file system information.\n#\n# <file system> <mount point>   <type>  <options>       <dump>  <pass>\nUUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/sda2\t/opt\text4\tdefaults\t0\t2\n\ntmpfs   /dev/shm   tmpfs   defaults,exec   0 0\n/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n";

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_string()).collect()
    }

    #[test]
    fn only_the_options_field_of_the_entry_changes() {
        let mut f = Fstab::parse(DEBIAN);
        let e = f.find("/opt");
        assert_eq!(e.len(), 1);
        let opts = ensure_options(&f.options(&e[0]), &s(&["noexec", "nosuid", "nodev"]));
        f.set_options(&e[0], &opts).unwrap();
        let want = DEBIAN.replace(
            "/dev/sda2\t/opt\text4\tdefaults\t0\t2",
            "/dev/sda2\t/opt\text4\tdefaults,noexec,nosuid,nodev\t0\t2",
        );
        assert_eq!(f.render(), want);
        let e = f.find("/dev/shm");
        let opts = ensure_options(&f.options(&e[0]), &s(&["noexec"]));
        assert_eq!(opts, s(&["defaults", "noexec"]));
    }

    #[test]
    fn options_keep_order_and_replace_opposites_and_values() {
        let cur = s(&["rw", "exec", "size=1G", "nosuid"]);
        assert_eq!(
            ensure_options(&cur, &s(&["noexec", "nosuid", "size=2G"])),
            s(&["rw", "nosuid", "noexec", "size=2G"])
        );
        assert_eq!(ensure_options(&s(&["noexec"]), &s(&["exec"])), s(&["exec"]));
        let done = s(&["defaults", "noexec", "nosuid", "nodev"]);
        assert_eq!(ensure_options(&done, &s(&["nodev", "noexec"])), done);
    }

    #[test]
    fn escaped_mount_points_and_short_lines() {
        let mut f = Fstab::parse("/dev/x /srv/my\\040data ext4\nbroken\n/dev/y /b");
        assert_eq!(f.find("/srv/my data").len(), 1);
        assert_eq!(
            Fstab::parse("/dev/z /srv/ ext4\n/dev/r / ext4\n")
                .find("/srv")
                .len(),
            1
        );
        assert_eq!(Fstab::parse("/dev/r / ext4\n").find("/").len(), 1);
        let e = f.find("/srv/my data").remove(0);
        f.set_options(&e, &s(&["nodev"])).unwrap();
        assert_eq!(
            f.render(),
            "/dev/x /srv/my\\040data ext4\tnodev\nbroken\n/dev/y /b"
        );
        let e = f.find("/b").remove(0);
        assert!(f.set_options(&e, &s(&["nodev"])).is_err());
        f.append("tmpfs /tmp tmpfs nosuid 0 0");
        assert!(
            f.render()
                .ends_with("/dev/y /b\ntmpfs /tmp tmpfs nosuid 0 0\n")
        );
        assert_eq!(escape("/srv/my data"), "/srv/my\\040data");
        assert_eq!(unescape(&escape("a b\tc\\d")), "a b\tc\\d");
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            "#[ -~]{0,30}",
            "[ \t]{0,3}",
            "[ \t]{0,2}[!-~]{1,12}([ \t]{1,3}[!-~]{1,12}){1,6}[ \t]{0,2}",
        ]
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in any::<String>()) {
            prop_assert_eq!(Fstab::parse(&text).render(), text);
        }

        #[test]
        fn editing_one_entry_keeps_every_other_line(
            lines in proptest::collection::vec(line(), 0..12),
            last_newline in any::<bool>(),
        ) {
            let mut text = lines.join("\n");
            if last_newline { text.push('\n'); }
            let mut f = Fstab::parse(&text);
            let before: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
            let Some(e) = f.entries().into_iter().find(|e| f.field(e, 2).is_some()) else {
                return Ok(());
            };
            let opts = ensure_options(&f.options(&e), &s(&["noexec", "nodev"]));
            f.set_options(&e, &opts).unwrap();
            let after: Vec<String> = f.render().split_inclusive('\n').map(str::to_string).collect();
            prop_assert_eq!(after.len(), before.len());
            for (i, (a, b)) in after.iter().zip(&before).enumerate() {
                if i != e.line { prop_assert_eq!(a, b); }
            }
            // The edited entry now carries the options, and editing again changes nothing.
            let g = Fstab::parse(&f.render());
            let e2 = g.entries().into_iter().find(|x| x.line == e.line).unwrap();
            let o = g.options(&e2);
            prop_assert!(o.contains(&"noexec".to_string()) && o.contains(&"nodev".to_string()));
            prop_assert_eq!(ensure_options(&o, &s(&["noexec", "nodev"])), o);
        }
    }
}
