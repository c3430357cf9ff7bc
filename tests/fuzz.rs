//! Mutation fuzzing of everything harden parses from the world: the playbook
//! loader, the six lossless formats (`sshd_config`, INI, key=value, the account
//! databases, fstab, sysctl) and the transaction manifest a state directory holds.
//! It runs on the stable toolchain: a seeded corpus of real files, mutated by byte,
//! character and line operations (flips, inserts of the characters these formats
//! care about, deletions, duplicated and spliced lines), inputs that parse kept in
//! the corpus. Each input must never panic; one that parses must render back byte
//! for byte; an edit of a parsed file must render text that parses again and reads
//! back the edited value.
//!
//! These tests are `#[ignore]`d in the normal run; `scripts/fuzz` runs them for
//! `HARDEN_FUZZ_SECS` seconds each (CI: 50) and prints the exec counts.
//! `HARDEN_FUZZ_SEED` replays a run. A failing input is written to
//! `target/fuzz-failures/TARGET-SEED.txt` and printed escaped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harden::formats::accounts::{Group, Gshadow, Passwd, Shadow};
use harden::formats::fstab::Fstab;
use harden::formats::ini::{IniDialect, IniDoc};
use harden::formats::keyvalue::{KvDialect, KvDoc};
use harden::formats::sshd_config::SshdConfig;
use harden::formats::sysctl::SysctlFile;

/// xorshift64*: small, fast, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }
}

/// Characters the formats give meaning to, and some they should survive.
const INTERESTING: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "#",
    ";",
    "=",
    ":",
    "\"",
    "'",
    "\\",
    "[",
    "]",
    "{",
    "}",
    "-",
    ",",
    "*",
    "!",
    "$",
    "`",
    "%",
    "\u{0}",
    "\u{1b}",
    "é",
    "\u{feff}",
    "\u{2028}",
    "Match",
    "Include",
    "export ",
    "[Definition]",
    "{{ x }}",
    "&a",
    "*a",
    "---",
    "...",
    "- ",
    "? ",
    "0x",
    "99999999999999999999",
    "-1",
];

fn budget() -> Duration {
    let secs = std::env::var("HARDEN_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(2);
    Duration::from_secs(secs)
}

fn seed() -> u64 {
    std::env::var("HARDEN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            u64::try_from(t.as_nanos() % u128::from(u64::MAX)).unwrap_or(1) | 1
        })
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

/// One to four random edits of `input` (spliced with `other`).
fn mutate(rng: &mut Rng, input: &str, other: &str) -> String {
    let mut s = input.to_string();
    for _ in 0..=rng.below(4) {
        let at = char_boundary(&s, rng.below(s.len() + 1));
        match rng.below(9) {
            0 | 1 => s.insert_str(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => {
                let end = char_boundary(&s, at + rng.below(16));
                s.replace_range(at..end, "");
            }
            3 => {
                // Replace one character with a random ASCII or control one.
                let end = char_boundary(&s, at + 1);
                let c = char::from(u8::try_from(rng.below(128)).unwrap_or(b'x'));
                s.replace_range(at..end, &c.to_string());
            }
            4 => {
                // Duplicate a line.
                let lines: Vec<&str> = s.split_inclusive('\n').collect();
                if !lines.is_empty() {
                    let l = lines[rng.below(lines.len())].to_string();
                    s.insert_str(at, &l);
                }
            }
            5 => {
                // Splice a line of another corpus entry.
                let lines: Vec<&str> = other.split_inclusive('\n').collect();
                if !lines.is_empty() {
                    s.insert_str(at, lines[rng.below(lines.len())]);
                }
            }
            6 => {
                // Delete a line.
                let lines: Vec<&str> = s.split_inclusive('\n').collect();
                if !lines.is_empty() {
                    let k = rng.below(lines.len());
                    s = lines
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != k)
                        .map(|(_, l)| *l)
                        .collect();
                }
            }
            7 => {
                // Repeat a short piece many times (long lines, deep nesting).
                let end = char_boundary(&s, at + 1 + rng.below(4));
                let piece = s[at..end].to_string();
                s.insert_str(at, &piece.repeat(1 + rng.below(200)));
            }
            _ => {
                let n = rng.below(s.len() + 1);
                s.truncate(char_boundary(&s, n));
            }
        }
    }
    s
}

/// What one input did: parsed (keep it in the corpus) or not.
type Verdict = Result<bool, String>;

/// Runs `check` on mutated inputs for the time budget; panics (failing the test)
/// on the first input that panics or breaks a property.
fn fuzz(name: &str, seeds: &[String], check: &dyn Fn(&str) -> Verdict) {
    let seed = seed();
    let mut rng = Rng(seed);
    let mut corpus: Vec<String> = seeds.to_vec();
    let deadline = Instant::now() + budget();
    let start = Instant::now();
    let mut execs: u64 = 0;
    let mut parsed: u64 = 0;
    // Seeds themselves first, then mutations until the deadline.
    let mut pending: Vec<String> = seeds.to_vec();
    loop {
        let input = if let Some(s) = pending.pop() {
            s
        } else {
            if Instant::now() >= deadline {
                break;
            }
            let a = &corpus[rng.below(corpus.len())];
            let b = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, a, b)
        };
        execs += 1;
        let verdict = catch_unwind(AssertUnwindSafe(|| check(&input))).unwrap_or_else(|p| {
            Err(format!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_default()
            ))
        });
        match verdict {
            Ok(true) => {
                parsed += 1;
                if input.len() < 64 * 1024 && corpus.len() < 512 {
                    corpus.push(input);
                } else if input.len() < 64 * 1024 {
                    let k = rng.below(corpus.len());
                    corpus[k] = input;
                }
            }
            Ok(false) => {}
            Err(why) => {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{name}-{seed}.txt"));
                let _ = std::fs::write(&file, &input);
                panic!(
                    "fuzz {name}: {why}\n  seed {seed} after {execs} execs; input saved in {}:\n{:?}",
                    file.display(),
                    input
                );
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {name}: {execs} execs in {secs:.1} s ({:.0}/s), {parsed} parsed, corpus {}, seed {seed}, 0 failures",
        f64::from(u32::try_from(execs).unwrap_or(u32::MAX)) / secs.max(1e-9),
        corpus.len()
    );
}

fn lossless(name: &str, input: &str, rendered: &str) -> Result<(), String> {
    if rendered == input {
        Ok(())
    } else {
        Err(format!(
            "{name}: render differs from the parsed text: {rendered:?}"
        ))
    }
}

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_sshd_config() {
    let seeds = vec![
        fixture("tests/it/fixtures/debian12_sshd_config"),
        "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User alice\n  PasswordAuthentication yes\n".into(),
        "AllowUsers a b\tc\n# comment\n\nPort=22\nSubsystem sftp /usr/lib/openssh/sftp-server\n".into(),
    ];
    fuzz("sshd_config", &seeds, &|s| {
        let Ok(mut c) = SshdConfig::parse(s) else {
            return Ok(false);
        };
        lossless("parse", s, &c.render())?;
        if c.set_global("PermitRootLogin", &["no".to_string()]).is_ok() {
            let out = c.render();
            let again = SshdConfig::parse(&out)
                .map_err(|e| format!("an edit rendered text that does not parse: {e}: {out:?}"))?;
            lossless("edited", &out, &again.render())?;
            let got: Vec<String> = again
                .global_values("PermitRootLogin")
                .iter()
                .map(|d| format!("{d:?}"))
                .collect();
            if !got.first().is_some_and(|d| d.contains("\"no\"")) {
                return Err(format!("the edit does not read back: {got:?} in {out:?}"));
            }
        }
        Ok(true)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_ini() {
    let seeds = strings(&[
        "[DEFAULT]\nbantime = 1h\n\n[sshd]\nenabled = true\nport    = ssh\nlogpath = %(sshd_log)s\n  /var/log/other\n",
        "[Definition]\nfailregex = ^.*?Failed login attempt.*?<ADDR>\nignoreregex =\n; comment\n",
        "[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/true \\\n  --flag\nEnvironment=\nEnvironment=A=1\n",
    ]);
    fuzz("ini", &seeds, &|s| {
        let mut any = false;
        for dialect in [IniDialect::Python, IniDialect::Systemd] {
            let Ok(mut d) = IniDoc::parse(s, dialect) else {
                continue;
            };
            any = true;
            lossless("parse", s, &d.render())?;
            if d.set("Definition", "failregex", "^x <HOST>$").is_ok() {
                let out = d.render();
                let again = IniDoc::parse(&out, dialect).map_err(|e| {
                    format!("{dialect:?}: an edit rendered text that does not parse: {e}: {out:?}")
                })?;
                let got = again.get("Definition", "failregex");
                if got.as_deref() != Some("^x <HOST>$") {
                    return Err(format!(
                        "{dialect:?}: the edit reads back {got:?} in {out:?}"
                    ));
                }
            }
        }
        Ok(any)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_keyvalue() {
    let seeds = strings(&[
        "# login.defs\nPASS_MAX_DAYS\t99999\nUMASK 022\nENCRYPT_METHOD SHA512\n",
        "export API_KEY=\"a b \\\" c\"\nRATE='10'\nEMPTY=\n# c\nX=1 # trailing\n",
    ]);
    fuzz("keyvalue", &seeds, &|s| {
        let mut any = false;
        for dialect in [KvDialect::Equals, KvDialect::Whitespace] {
            let Ok(mut d) = KvDoc::parse(s, dialect) else {
                continue;
            };
            any = true;
            lossless("parse", s, &d.render())?;
            if d.set("FUZZ_KEY", "value-1").is_ok() {
                let out = d.render();
                let again = KvDoc::parse(&out, dialect).map_err(|e| {
                    format!("{dialect:?}: an edit rendered text that does not parse: {e}: {out:?}")
                })?;
                let got = again.get("FUZZ_KEY");
                if got.as_deref() != Some("value-1") {
                    return Err(format!(
                        "{dialect:?}: the edit reads back {got:?} in {out:?}"
                    ));
                }
            }
        }
        Ok(any)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_accounts() {
    let seeds = strings(&[
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
        "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7::20000:\n",
        "root:x:0:\nsudo:x:27:alice,bob\n",
        "root:*::\nsudo:!::alice\n",
        "# comment\n\n+::::::\n",
    ]);
    fuzz("accounts", &seeds, &|s| {
        let mut any = false;
        if let Ok(t) = Passwd::parse(s) {
            any = true;
            lossless("passwd", s, &t.render())?;
        }
        if let Ok(mut t) = Shadow::parse(s) {
            any = true;
            lossless("shadow", s, &t.render())?;
            let names: Vec<String> = t.iter().map(|e| e.name().to_string()).collect();
            if let Some(n) = names.first()
                && t.lock(n).is_ok()
            {
                let out = t.render();
                let again = Shadow::parse(&out).map_err(|e| {
                    format!("a lock rendered text that does not parse: {e}: {out:?}")
                })?;
                lossless("locked", &out, &again.render())?;
            }
        }
        if let Ok(t) = Group::parse(s) {
            any = true;
            lossless("group", s, &t.render())?;
        }
        if let Ok(t) = Gshadow::parse(s) {
            any = true;
            lossless("gshadow", s, &t.render())?;
        }
        Ok(any)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_fstab() {
    let seeds = strings(&[
        "# /etc/fstab\nUUID=0a1b / ext4 errors=remount-ro 0 1\n/dev/sdb1 /opt ext4 defaults 0 2\ntmpfs /tmp tmpfs nosuid,nodev 0 0\n",
        "/dev/sdc1\t/mnt/with\\040space\txfs\tdefaults\n",
    ]);
    fuzz("fstab", &seeds, &|s| {
        let mut f = Fstab::parse(s);
        lossless("parse", s, &f.render())?;
        let entries = f.entries();
        if let Some(e) = entries.first() {
            let line = e.line;
            if f.set_options(e, &["nodev".to_string()]).is_ok() {
                let out = f.render();
                let again = Fstab::parse(&out);
                let got = again
                    .entries()
                    .into_iter()
                    .find(|x| x.line == line)
                    .map(|x| again.options(&x));
                if got.as_deref() != Some(&["nodev".to_string()][..]) {
                    return Err(format!("the edit reads back {got:?} in {out:?}"));
                }
            }
        }
        Ok(true)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_sysctl() {
    let seeds = strings(&[
        "# hardening\nnet.ipv4.ip_forward = 1\n-kernel.kptr_restrict=2\nnet/ipv4/conf/all/rp_filter = 1\n; c\n",
    ]);
    fuzz("sysctl", &seeds, &|s| {
        let mut f = SysctlFile::parse(s);
        lossless("parse", s, &f.render())?;
        f.set("net.ipv4.ip_forward", "0");
        let out = f.render();
        let again = SysctlFile::parse(&out);
        let got = again.get("net.ipv4.ip_forward");
        if got != Some("0") {
            return Err(format!("the edit reads back {got:?} in {out:?}"));
        }
        Ok(true)
    });
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    let host =
        harden::host::Host::new(root, Arc::new(harden::host::runner::RecordingRunner::new()));
    let file = dir.path().join("pb.yml");
    let mut seeds: Vec<String> = harden::playbook::EMBEDDED
        .iter()
        .map(|(_, t)| (*t).to_string())
        .collect();
    seeds.push(
        "name: x\nvars: { p: 22 }\ntasks:\n  - {name: a, id: a.b, tags: [t], when: {exists: /etc}, sshd: {settings: {Port: \"{{ p }}\"}}}\n".into(),
    );
    fuzz("playbook", &seeds, &|s| {
        std::fs::write(&file, s).map_err(|e| e.to_string())?;
        let Ok(pb) = harden::playbook::load(
            &[harden::playbook::Source::File(file.clone())],
            &std::collections::BTreeMap::new(),
        ) else {
            return Ok(false);
        };
        // Planning a loaded playbook against an empty root must not panic either
        // (its errors are per-rule results).
        let _ = harden::engine::plan(&host, &pb, &harden::engine::Filter::default());
        Ok(true)
    });
}

/// The transaction manifest is read back from a state directory that an image
/// can carry (`--root IMG` brings its own `var/lib/harden`): its reader must
/// never panic, and what it reads must write back in a form that reads to the
/// same manifest and writes to the same bytes again.
#[test]
#[ignore = "fuzzing: run by scripts/fuzz"]
fn fuzz_manifest() {
    use harden::engine::manifest;
    let head = r#"{"id":"20260101-000000000-000","kind":"apply","started":"2026-01-01T00:00:00.000Z","playbook":"p","root":"/","restores":"20251231-000000000-000","changes":3,"rules":["a","b"],"handlers":[{"handler":"systemctl","verb":"reload","unit":"ssh.service"},{"handler":"daemon-reload"}],"locks":[{"kind":"fcntl","path":"/etc/.pwd.lock"}]}"#;
    let seeds = vec![
        format!(
            "harden-manifest 2\n{head}\nD 755 0 0 /srv/tree\nF 644 65534 65534 - /srv/tree/caf\\xe9\\x20x\nF 600 0 0 {} /etc/ssh/sshd_config\nA /etc/motd.d/harden\nL ../a\\x20b /etc/link\nJ {{\"kind\":\"sysctl\",\"key\":\"net.ipv4.ip_forward\",\"value\":\"0\"}}\nJ {{\"kind\":\"packages\",\"installed\":{{\"tree\":\"2.1.0-1\"}}}}\n",
            "ab".repeat(32)
        ),
        "harden-manifest 2\n{\"id\":\"x\",\"kind\":\"rollback\",\"started\":\"s\",\"playbook\":\"\",\"root\":\"/r\",\"changes\":0,\"rules\":[],\"handlers\":[]}\n".into(),
    ];
    for s in &seeds {
        manifest::read(s.as_bytes()).unwrap_or_else(|e| panic!("seed: {e}"));
    }
    fuzz("manifest", &seeds, &|s| {
        let Ok(m) = manifest::read(s.as_bytes()) else {
            return Ok(false);
        };
        let write = |m: &harden::engine::snapshot::Manifest| {
            let mut out = Vec::new();
            manifest::write(&mut out, m).map(|()| out)
        };
        let out = write(&m).map_err(|e| format!("a manifest that reads does not write: {e}"))?;
        let again = manifest::read(&out)
            .map_err(|e| format!("a written manifest does not read: {e}: {out:?}"))?;
        if again.entries != m.entries
            || (&again.id, &again.rules, &again.root, again.changes)
                != (&m.id, &m.rules, &m.root, m.changes)
        {
            return Err(format!("the manifest reads back otherwise: {out:?}"));
        }
        let twice = write(&again).map_err(|e| e.to_string())?;
        if twice != out {
            return Err(format!("writing is not stable: {out:?} then {twice:?}"));
        }
        Ok(true)
    });
}
