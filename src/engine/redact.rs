//! Keeping a secret candidate out of validator output. A validator that rejects a
//! file often quotes it (nginx names the bad token, `visudo` echoes the line), and
//! that output goes into the error, the run report and `result.json`. For a file
//! whose content is secret, every output line that contains one of the candidate's
//! lines, or one of its words (three characters or more, split at blanks, quotes
//! and `=:;,(){}[]<>`), is replaced by a note: over-hiding a line of a secret file's
//! error is the price of never showing the secret. Pure text in, text out.

use std::collections::BTreeSet;

/// What replaces a hidden line.
pub const HIDDEN: &str = "[line hidden: it quotes the secret candidate]";

/// `output` with every line that quotes `candidate` replaced by [`HIDDEN`].
#[must_use]
pub fn secret_output(output: &str, candidate: &[u8]) -> String {
    let text = String::from_utf8_lossy(candidate);
    let mut needles: BTreeSet<&str> = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.chars().count() >= 3 {
            needles.insert(line);
        }
        for word in line.split(|c: char| c.is_whitespace() || "\"'`=:;,(){}[]<>".contains(c)) {
            if word.chars().count() >= 3 {
                needles.insert(word);
            }
        }
    }
    output
        .lines()
        .map(|l| {
            if needles.iter().any(|n| l.contains(n)) {
                HIDDEN
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quoting_the_candidate_are_hidden() {
        let out = "nginx: [emerg] unknown directive \"s3cr3t-token\" in /tmp/x:3\nnginx: configuration file /tmp/x test failed";
        let got = secret_output(out, b"server {\n  s3cr3t-token;\n}\n");
        assert_eq!(
            got,
            format!("{HIDDEN}\nnginx: configuration file /tmp/x test failed")
        );
        assert_eq!(secret_output("all fine", b"ab\n"), "all fine");
    }
}
