//! "Did you mean": the closest of a set of known names to a mistyped one, by
//! edit distance (insertions, deletions, substitutions and swaps of two
//! neighbours each count one). Used by the errors about names a user types: `-p`,
//! `--tags`, `-e` and the Ansible module's `vars`.

/// The Damerau-Levenshtein distance (optimal string alignment) of `a` and `b`.
#[must_use]
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The known name closest to `word`, when it is close enough to be a typo (at
/// most one edit per three characters, at least one).
#[must_use]
pub fn closest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (distance(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
}

/// ` (did you mean `NAME`?)`, or nothing.
#[must_use]
pub fn hint<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, known)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_near_and_other_words_are_not() {
        assert_eq!(distance("domian", "domain"), 1);
        assert_eq!(distance("kernal", "kernel"), 1);
        assert_eq!(distance("postix", "postiz"), 1);
        assert_eq!(
            closest("kernal", ["kernel", "ssh", "files"]),
            Some("kernel")
        );
        assert_eq!(closest("domian", ["domain", "app_dir"]), Some("domain"));
        assert_eq!(closest("network", ["kernel", "ssh"]), None);
        assert_eq!(hint("sh", ["ssh"]), " (did you mean `ssh`?)");
        assert_eq!(hint("zzz", ["ssh"]), "");
    }
}
