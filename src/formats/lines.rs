//! Splitting text into lines that remember their ending (`\n`, `\r\n`, or none
//! for a last line without one), so a format can render its input back byte for
//! byte. Shared by the lossless formats; it knows nothing of any syntax.

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eol {
    None,
    Lf,
    CrLf,
}

impl Eol {
    /// The ending as text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Eol::None => "",
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// The lines of `text` without their endings, each with its ending.
pub(crate) fn split_lines(text: &str) -> Vec<(&str, Eol)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(i) = rest.find('\n') {
            let line = &rest[..i];
            out.push(match line.strip_suffix('\r') {
                Some(t) => (t, Eol::CrLf),
                None => (line, Eol::Lf),
            });
            rest = &rest[i + 1..];
        } else {
            out.push((rest, Eol::None));
            rest = "";
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_kept() {
        let text = "a\r\nb\n\nc";
        let lines = split_lines(text);
        assert_eq!(
            lines,
            vec![
                ("a", Eol::CrLf),
                ("b", Eol::Lf),
                ("", Eol::Lf),
                ("c", Eol::None)
            ]
        );
        let back: String = lines.iter().flat_map(|(l, e)| [*l, e.as_str()]).collect();
        assert_eq!(back, text);
        assert!(split_lines("").is_empty());
    }
}
