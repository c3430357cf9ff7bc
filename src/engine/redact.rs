//! Keeping a secret candidate's values out of validator output. A validator that
//! rejects a file often quotes it (nginx names the bad token, `visudo` echoes the
//! line, an app's own check names a setting), and that output goes into the error,
//! the run report and `result.json`. For a file whose content is secret, every
//! value the candidate holds is masked wherever the output quotes it: what follows
//! a key and its separator (`=`, `:` or blanks, each `key: value` pair of a line),
//! every quoted string, the password of a URL's `user:password@`, and a line with
//! no key as a whole. The keys and the validator's own words stay, so the reason
//! for a rejection can still be read. Booleans, `nil`/`null` and short numbers
//! (ports, counts) are no secrets and are left; so are values under three
//! characters. Pure text in, text out.

use std::collections::BTreeSet;

/// What replaces a masked value.
pub const HIDDEN: &str = "[secret hidden]";

/// `output` with every value of `candidate` it quotes replaced by [`HIDDEN`].
#[must_use]
pub fn secret_output(output: &str, candidate: &[u8]) -> String {
    let text = String::from_utf8_lossy(candidate);
    let mut needles: BTreeSet<&str> = BTreeSet::new();
    for line in text.lines() {
        values(line, &mut needles);
    }
    // Longest first, so a value that contains another is masked whole.
    let mut needles: Vec<&str> = needles.into_iter().filter(|n| worth_hiding(n)).collect();
    needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let mut out = output.to_string();
    for n in needles {
        if out.contains(n) {
            out = out.replace(n, HIDDEN);
        }
    }
    out
}

/// The characters around a value that are syntax, not secret.
const TRIM: &[char] = &[
    ' ', '\t', '"', '\'', '`', ',', ';', '[', ']', '(', ')', '{', '}',
];

/// Every value `line` holds, into `out`.
fn values<'a>(line: &'a str, out: &mut BTreeSet<&'a str>) {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return;
    }
    // Quoted strings.
    for q in ['"', '\'', '`'] {
        let mut parts = line.split(q);
        parts.next();
        while let Some(inside) = parts.next() {
            out.insert(inside);
            parts.next();
        }
    }
    // What follows the first separator: the value of `KEY=value`, `key: value`,
    // `key value` (nginx, sshd); a line without one is a value as a whole.
    match line.find(['=', ':', ' ', '\t']) {
        Some(i) => {
            out.insert(line[i + 1..].trim_matches(TRIM));
            // Every `key: value` / `key = value` pair along the line (keyword
            // lists, inline maps): the value up to the next `,` or bracket.
            // A `:` separates only after a key and before a blank (not in
            // `:atom`, `::` or `://`).
            let bytes = line.as_bytes();
            for (j, c) in line.char_indices() {
                let keyed = j > 0 && (bytes[j - 1].is_ascii_alphanumeric() || bytes[j - 1] == b'_');
                let blank_after = bytes.get(j + 1).is_none_or(u8::is_ascii_whitespace);
                if c == '=' || (c == ':' && keyed && blank_after) {
                    let rest = &line[j + 1..];
                    let end = value_end(rest);
                    out.insert(rest[..end].trim_matches(TRIM));
                }
            }
        }
        None => {
            out.insert(line.trim_matches(TRIM));
        }
    }
    // `scheme://user:password@host`: the password alone, wherever it is quoted.
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        rest = &rest[i + 3..];
        let authority = &rest[..rest.find(['/', ' ', '"', '\'']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            out.insert(password);
        }
    }
}

/// Where a value that starts `rest` ends: at a `,` or closing bracket outside quotes.
fn value_end(rest: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ',' || c == ']' || c == ')' || c == '}' => return i,
            Some(_) | None => {}
        }
    }
    rest.len()
}

/// Whether a value could be a secret worth masking.
fn worth_hiding(v: &str) -> bool {
    if v.chars().count() < 3 {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "nil", "null", "none",
    ]
    .contains(&lower.as_str())
    {
        return false;
    }
    // Ports, counts, modes: no secrets, and masking them would garble line numbers.
    !(v.len() < 6 && v.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_secret_line_is_masked_and_the_reason_stays() {
        let out = "nginx: [emerg] unknown directive \"s3cr3t-token\" in /tmp/x:3\nnginx: configuration file /tmp/x test failed";
        let got = secret_output(out, b"server {\n  s3cr3t-token;\n}\n");
        assert_eq!(
            got,
            format!(
                "nginx: [emerg] unknown directive \"{HIDDEN}\" in /tmp/x:3\nnginx: configuration file /tmp/x test failed"
            )
        );
        assert_eq!(secret_output("all fine", b"ab\n"), "all fine");
    }

    #[test]
    fn values_are_masked_and_lines_that_share_a_word_with_the_file_are_kept() {
        let candidate = b"import Config\n\nconfig :pleroma, Pleroma.Web.Endpoint,\n  url: [host: \"social.example.org\", scheme: \"https\", port: 443],\n  secret_key_base: \"k3y-b4se-0f-the-1nstance\"\n\nconfig :pleroma, Pleroma.Upload, base_url: \"\"\n";
        let out = "** (RuntimeError) media_url is required: uploads belong on another domain\n    config :pleroma, Pleroma.Upload, base_url\n  secret_key_base was k3y-b4se-0f-the-1nstance, port 443, enabled: true";
        let got = secret_output(out, candidate);
        assert_eq!(
            got,
            format!(
                "** (RuntimeError) media_url is required: uploads belong on another domain\n    config :pleroma, Pleroma.Upload, base_url\n  secret_key_base was {HIDDEN}, port 443, enabled: true"
            )
        );
        // The instance's host is a value of the file: masked, the words around it kept.
        assert_eq!(
            secret_output("domain than social.example.org (-e x)", candidate),
            format!("domain than {HIDDEN} (-e x)")
        );
    }

    #[test]
    fn env_values_url_passwords_and_keyword_pairs_are_masked() {
        let candidate = b"# comment\nJWT_SECRET=abcd1234efgh\nDATABASE_URL=\"postgresql://postiz:pa55word@db:5432/postiz\"\nopts: [user: u1x, pass: 'hunter22', tls: true]\nPermitRootLogin prohibit-password\n";
        let out = "JWT_SECRET=abcd1234efgh invalid\nconnect failed for postiz:pa55word\npass hunter22\nPermitRootLogin prohibit-password\ntls: true";
        let got = secret_output(out, candidate);
        assert_eq!(
            got,
            format!(
                "JWT_SECRET={HIDDEN} invalid\nconnect failed for postiz:{HIDDEN}\npass {HIDDEN}\nPermitRootLogin {HIDDEN}\ntls: true"
            )
        );
        assert!(
            !got.contains("abcd1234") && !got.contains("pa55word") && !got.contains("hunter22")
        );
    }

    #[test]
    fn a_longer_value_is_masked_whole_before_a_shorter_one_inside_it() {
        let candidate = b"A=abc\nB=abcdef-secret\n";
        assert_eq!(
            secret_output("x abcdef-secret y abc", candidate),
            format!("x {HIDDEN} y {HIDDEN}")
        );
    }
}
