//! Health readings for `probe:` rules, read-only: listening TCP sockets of the
//! running system (`/proc/net/tcp` and `tcp6`, parsed here: no `ss`), the usage of
//! a file system (`statvfs`), authentication failures in the system log (the
//! journal through the running system's `journalctl`, or an `auth.log` file read
//! through the no-follow API and parsed here), and unhealthy containers (the
//! running system's `docker ps`). Nothing here writes, and nothing here runs a
//! program of an offline root: the callers ask for the live readings only when the
//! root is `/`; an offline root's `auth.log` is read as data.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Host;
use super::runner::Cmd;

/// A TCP socket in the LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    /// The owner of the socket.
    pub uid: u32,
}

/// The socket state `/proc/net/tcp` prints for LISTEN (`TCP_LISTEN`).
const TCP_LISTEN: &str = "0A";

/// The listening sockets in the text of `/proc/net/tcp` (`v6: false`) or
/// `/proc/net/tcp6`: the header line is skipped, sockets in other states are left
/// out. Addresses are printed as 32-bit words in the kernel's byte order, so they
/// are decoded with this machine's (`to_ne_bytes`), which is the kernel's.
///
/// # Errors
/// A line that is not a socket line of that file (it names its number).
pub fn parse_proc_net_tcp(text: &str, v6: bool) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || format!("line {}: not a socket line: {}", i + 1, line.trim());
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid ...
        if fields.len() < 8 || !fields[0].ends_with(':') {
            return Err(bad());
        }
        if fields[3] != TCP_LISTEN {
            continue;
        }
        let (addr, port) = fields[1].split_once(':').ok_or_else(bad)?;
        let addr = decode_addr(addr, v6).ok_or_else(bad)?;
        let port = u16::from_str_radix(port, 16).map_err(|_| bad())?;
        let uid = fields[7].parse().map_err(|_| bad())?;
        out.push(Listener { addr, port, uid });
    }
    Ok(out)
}

fn decode_addr(hex: &str, v6: bool) -> Option<IpAddr> {
    let words = if v6 { 4 } else { 1 };
    if hex.len() != words * 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(words * 4);
    for w in 0..words {
        let word = u32::from_str_radix(&hex[w * 8..w * 8 + 8], 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    Some(if v6 {
        let b: [u8; 16] = bytes.try_into().ok()?;
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        let b: [u8; 4] = bytes.try_into().ok()?;
        IpAddr::V4(Ipv4Addr::from(b))
    })
}

/// Whether only this machine can reach `addr`: `127.0.0.0/8`, `::1`, or an
/// IPv4-mapped loopback address. `0.0.0.0` and `::` (every address) are not.
#[must_use]
pub fn is_loopback(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// The listening TCP sockets of the running system's network namespace (the one
/// harden runs in): `/proc/net/tcp`, and `/proc/net/tcp6` where IPv6 is enabled.
///
/// # Errors
/// When `/proc/net/tcp` cannot be read or parsed.
pub fn listening() -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if v6 && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{file}: {e}")),
        };
        out.extend(parse_proc_net_tcp(&text, v6).map_err(|e| format!("{file}: {e}"))?);
    }
    Ok(out)
}

/// How full a file system is, as `df` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Used blocks over the blocks available to unprivileged users and used ones,
    /// rounded up (`df`'s `Use%`).
    pub percent: u8,
    pub used_bytes: u64,
    pub size_bytes: u64,
}

/// `df`'s `Use%` from block counts: used over used plus available to users
/// (blocks reserved for root count as neither), rounded up.
#[must_use]
pub fn usage_percent(blocks: u64, free: u64, available: u64) -> u8 {
    let used = u128::from(blocks.saturating_sub(free));
    let total = used + u128::from(available);
    if total == 0 {
        return 0;
    }
    u8::try_from((used * 100).div_ceil(total).min(100)).unwrap_or(100)
}

/// The usage of the file system holding `path` on the running system.
///
/// # Errors
/// When `statvfs` fails (the path does not exist, or cannot be reached).
pub fn disk_usage(path: &Path) -> Result<Usage, String> {
    let s = nix::sys::statvfs::statvfs(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let frag = s.fragment_size();
    let (blocks, free, avail) = (s.blocks(), s.blocks_free(), s.blocks_available());
    Ok(Usage {
        percent: usage_percent(blocks, free, avail),
        used_bytes: blocks.saturating_sub(free).saturating_mul(frag),
        size_bytes: blocks.saturating_mul(frag),
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil year of a Unix time.
fn year_of(unix: i64) -> i64 {
    let days = unix.div_euclid(86_400);
    // Inverse of days_from_civil, year only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    era * 400 + yoe + i64::from(mp >= 10)
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM:SS` as seconds of the day.
fn clock(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec): (i64, i64, i64) = (num(h)?, num(m)?, num(sec)?);
    (h < 24 && m < 60 && sec < 61).then_some(h * 3600 + m * 60 + sec)
}

/// An RFC 3339 timestamp as rsyslog writes it (`2026-12-03T17:30:27.123456+00:00`)
/// or `journalctl -o short-iso` does (`2026-12-03T17:30:27+0000`), in Unix seconds.
fn iso_time(stamp: &str) -> Option<i64> {
    let (date, rest) = stamp.split_once('T')?;
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day): (i64, u32, u32) = (num(year)?, num(month)?, num(day)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || rest.len() < 8 {
        return None;
    }
    let secs = clock(rest.get(..8)?)?;
    let mut zone = &rest[8..];
    if let Some(frac) = zone.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = &frac[digits..];
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hhmm = zone[1..].replace(':', "");
            if hhmm.len() != 4 {
                return None;
            }
            let (hours, minutes): (i64, i64) = (num(&hhmm[..2])?, num(&hhmm[2..])?);
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(days_from_civil(year, month, day) * 86_400 + secs - offset)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A traditional syslog timestamp (`Dec  3 17:30:27`, no year, no zone): read
/// as UTC, in the year that puts it at most a day after `now`.
fn traditional_time(s: &str, now: i64) -> Option<i64> {
    let month = MONTHS.iter().position(|m| s.get(..3) == Some(*m))?;
    let month = u32::try_from(month).ok()? + 1;
    let day: u32 = num(s.get(4..6)?.trim_start())?;
    if s.get(3..4) != Some(" ") || s.get(6..7) != Some(" ") || !(1..=31).contains(&day) {
        return None;
    }
    let secs = clock(s.get(7..15)?)?;
    let year = year_of(now);
    let at = |y| days_from_civil(y, month, day) * 86_400 + secs;
    let t = at(year);
    Some(if t > now + 86_400 { at(year - 1) } else { t })
}

/// One line of an authentication log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLine<'a> {
    /// Unix seconds.
    pub time: i64,
    /// The program that logged it (`sshd`, `sudo`).
    pub program: &'a str,
    pub pid: Option<u32>,
    pub message: &'a str,
}

/// Parses `TIMESTAMP HOST PROGRAM[PID]: MESSAGE` (or `PROGRAM: MESSAGE`), with
/// an RFC 3339 timestamp or a traditional one (see [`traditional_time`]);
/// `None` for any other line (a continuation, a `-- Boot --` marker).
#[must_use]
pub fn parse_auth_line(line: &str, now: i64) -> Option<AuthLine<'_>> {
    let (time, rest) = if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let (stamp, rest) = line.split_once(' ')?;
        (iso_time(stamp)?, rest)
    } else {
        // The traditional stamp is exactly 15 characters, then a space.
        if line.as_bytes().get(15) != Some(&b' ') {
            return None;
        }
        (traditional_time(line, now)?, line.get(16..)?)
    };
    let (_host, rest) = rest.split_once(' ')?;
    let (tag, message) = rest.split_once(": ")?;
    let (program, pid) = match tag.split_once('[') {
        Some((p, pid)) => (p, Some(num(pid.strip_suffix(']')?)?)),
        None => (tag, None),
    };
    if program.is_empty() || program.contains(' ') {
        return None;
    }
    Some(AuthLine {
        time,
        program,
        pid,
        message,
    })
}

/// One authentication attempt that failed, on its own: sshd's `Failed METHOD
/// for ...` (not `publickey`: a client tries its keys in turn, and one refused
/// key before the accepted one is no failed login; fail2ban does not count it
/// either).
fn sshd_failed_attempt(message: &str) -> bool {
    message.starts_with("Failed ")
        && message.contains(" for ")
        && !message.starts_with("Failed publickey ")
}

/// An sshd connection that ended without authenticating: an unknown user, or a
/// client that gave up (or was cut off) before authenticating.
fn sshd_preauth_failure(message: &str) -> bool {
    message.starts_with("Invalid user ")
        || ((message.starts_with("Connection closed by ")
            || message.starts_with("Disconnected from "))
            && (message.contains("authenticating user ") || message.contains("invalid user "))
            && message.ends_with("[preauth]"))
}

/// A PAM module's failure for a service other than sshd (`su`, `sudo`, `login`):
/// `pam_unix(sudo:auth): authentication failure; ...`. sshd's own PAM lines are
/// not counted: sshd logs the attempt itself.
fn pam_failure(program: &str, message: &str) -> bool {
    !program.starts_with("sshd") && message.contains(":auth): authentication failure")
}

/// How many failed logins `lines` of an authentication log record at or after
/// `since` (Unix seconds): each sshd `Failed METHOD for` line but `publickey`
/// ([`sshd_failed_attempt`]); each sshd connection (program and pid) that logged
/// none of those but ended without authenticating ([`sshd_preauth_failure`]),
/// once; and each PAM `authentication failure` of another service
/// ([`pam_failure`]). Each attempt is counted once, though sshd, PAM and `login`
/// may all log it.
#[must_use]
pub fn count_failed_logins<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    since: i64,
    now: i64,
) -> usize {
    let mut count = 0;
    // sshd connection -> whether a failed attempt of it was counted already.
    let mut connections: BTreeMap<(&str, Option<u32>), bool> = BTreeMap::new();
    for line in lines {
        let Some(l) = parse_auth_line(line, now) else {
            continue;
        };
        if l.time < since {
            continue;
        }
        if l.program.starts_with("sshd") {
            if sshd_failed_attempt(l.message) {
                count += 1;
                connections.insert((l.program, l.pid), true);
            } else if sshd_preauth_failure(l.message) {
                connections.entry((l.program, l.pid)).or_insert(false);
            }
        } else if pam_failure(l.program, l.message) {
            count += 1;
        }
    }
    count + connections.values().filter(|counted| !**counted).count()
}

/// Where a host's authentication log is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    /// The running system's journal, through its `journalctl` (this path).
    Journal(PathBuf),
    /// `auth.log` under the root (with `auth.log.1`, the file rotated last, when
    /// there is one).
    File,
}

/// The authentication log file, the one rotated before it.
pub const AUTH_LOG: &str = "/var/log/auth.log";
const AUTH_LOG_ROTATED: &str = "/var/log/auth.log.1";
const JOURNAL_DIRS: [&str; 2] = ["/run/log/journal", "/var/log/journal"];

/// Where to read `host`'s authentication failures: on the running system its
/// journal when `journalctl` is installed and a journal directory holds
/// anything, else `auth.log`; under another root only its `auth.log` (a file:
/// data; its journal would need `journalctl` to parse an image's journal files
/// with this machine's privileges). `Err` says why there is neither.
///
/// # Errors
/// As above.
pub fn auth_source(host: &Host) -> Result<AuthSource, String> {
    if host.is_live()
        && let Some(journalctl) = host.binary("journalctl")
        && JOURNAL_DIRS
            .iter()
            .any(|d| std::fs::read_dir(d).is_ok_and(|mut entries| entries.next().is_some()))
    {
        return Ok(AuthSource::Journal(journalctl));
    }
    match host.lstat(Path::new(AUTH_LOG)) {
        Ok(Some(_)) => Ok(AuthSource::File),
        Ok(None) if host.is_live() => Err(format!(
            "no journal (journalctl installed and {} or {} not empty) and no {AUTH_LOG}",
            JOURNAL_DIRS[0], JOURNAL_DIRS[1]
        )),
        Ok(None) => Err(format!(
            "offline root {}: no {AUTH_LOG} (an image's journal is not read: that would run journalctl on its files)",
            host.root.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The authentication log text since `since` (Unix seconds) from `source`:
/// the journal's auth and authpriv facilities (`journalctl -o short-iso`, which
/// [`parse_auth_line`] reads), or the log files, older first.
///
/// # Errors
/// When `journalctl` fails or a file cannot be read (a symlink is refused).
pub fn auth_log(host: &Host, source: &AuthSource, since: i64) -> Result<String, String> {
    match source {
        AuthSource::Journal(journalctl) => {
            let mut cmd = Cmd::new([
                journalctl.as_os_str().to_os_string(),
                "--quiet".into(),
                "--no-pager".into(),
                "--utc".into(),
                "--output=short-iso".into(),
                format!("--since=@{since}").into(),
                "SYSLOG_FACILITY=4".into(),
                "SYSLOG_FACILITY=10".into(),
            ]);
            cmd.timeout = Duration::from_secs(60);
            let out = host.runner.run(&cmd).map_err(|e| e.to_string())?;
            if !out.success() {
                return Err(format!("journalctl failed: {}", out.brief()));
            }
            Ok(out.stdout)
        }
        AuthSource::File => {
            let mut text = String::new();
            for file in [AUTH_LOG_ROTATED, AUTH_LOG] {
                if let Some(bytes) = host.read(Path::new(file)).map_err(|e| e.to_string())? {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
            Ok(text)
        }
    }
}

/// The names of the containers Docker reports unhealthy, from the running
/// system's `docker` at `docker` (`docker ps --filter health=unhealthy`, one
/// name a line; the guide's `| wc -l` also counted the header line).
///
/// # Errors
/// When docker cannot answer (no daemon, no permission): its message.
pub fn unhealthy_containers(host: &Host, docker: &Path) -> Result<Vec<String>, String> {
    let mut cmd = Cmd::new([
        docker.as_os_str().to_os_string(),
        "ps".into(),
        "--filter".into(),
        "health=unhealthy".into(),
        "--format".into(),
        "{{.Names}}".into(),
    ]);
    cmd.timeout = Duration::from_secs(30);
    let out = host.runner.run(&cmd).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("`docker ps` failed: {}", out.brief()));
    }
    Ok(container_names(&out.stdout))
}

/// The names in `docker ps --format {{.Names}}` output.
fn container_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as a little-endian kernel prints them (the addresses' words are
    // decoded in this machine's order, which is the kernel's).
    #[cfg(target_endian = "little")]
    #[test]
    fn proc_net_tcp_lines() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1160 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1161 1 0000000000000000 100 0 0 10 0\n\
   2: 0F02000A:0016 0100000A:D431 01 00000000:00000000 02:000A7B8D 00000000     0        0 1162 4 0000000000000000 20 4 29 10 -1\n";
        let l = parse_proc_net_tcp(tcp, false).unwrap();
        assert_eq!(
            l,
            vec![
                Listener {
                    addr: "0.0.0.0".parse().unwrap(),
                    port: 22,
                    uid: 0
                },
                Listener {
                    addr: "127.0.0.1".parse().unwrap(),
                    port: 8080,
                    uid: 1000
                },
            ],
            "the established connection (state 01) is not a listener"
        );
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0\n\
   2: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0\n\
   3: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 100 0 0 10 0\n";
        let l = parse_proc_net_tcp(tcp6, true).unwrap();
        let addrs: Vec<String> = l.iter().map(|s| format!("{}:{}", s.addr, s.port)).collect();
        assert_eq!(
            addrs,
            [
                ":::80",
                "::1:631",
                "::ffff:127.0.0.1:8081",
                "2001:db8::1:443"
            ]
        );
        let loopback: Vec<bool> = l.iter().map(|s| is_loopback(&s.addr)).collect();
        assert_eq!(loopback, [false, true, true, false]);
    }

    #[test]
    fn malformed_proc_net_tcp_lines_are_errors_naming_the_line() {
        let header = "  sl  local_address rem_address   st\n";
        for bad in [
            "   0: 0000000:0016 00000000:0000 0A 0 0 0 0\n",
            "   0: 00000000:0016 00000000:0000 0A 0 0 0\n",
            "   0: 00000000:G016 00000000:0000 0A 0 0 0 0\n",
            "   0: 00000000:0016 00000000:0000 0A 0 0 0 root\n",
            "garbage\n",
        ] {
            let e = parse_proc_net_tcp(&format!("{header}{bad}"), false).unwrap_err();
            assert!(e.starts_with("line 2:"), "{e}");
        }
        assert!(parse_proc_net_tcp(header, false).unwrap().is_empty());
    }

    #[test]
    fn the_live_proc_net_tcp_parses() {
        // Whatever listens here, the files this kernel writes parse.
        listening().unwrap();
    }

    #[test]
    fn usage_is_counted_as_df_counts_it() {
        assert_eq!(usage_percent(100, 100, 95), 0);
        assert_eq!(usage_percent(100, 99, 94), 2, "1 of 95 rounds up");
        assert_eq!(usage_percent(100, 20, 15), 85);
        assert_eq!(usage_percent(100, 0, 0), 100);
        assert_eq!(usage_percent(0, 0, 0), 0);
        let u = disk_usage(Path::new("/")).unwrap();
        assert!(u.percent <= 100 && u.used_bytes <= u.size_bytes, "{u:?}");
        assert!(disk_usage(Path::new("/nonexistent/path")).is_err());
    }

    const NOW: i64 = 1_796_398_200; // 2026-12-04T15:30:00Z

    #[test]
    fn timestamps() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(year_of(NOW), 2026);
        assert_eq!(year_of(0), 1970);
        assert_eq!(iso_time("2026-12-04T15:30:00Z"), Some(NOW));
        assert_eq!(iso_time("2026-12-04T15:30:00.123456+00:00"), Some(NOW));
        assert_eq!(iso_time("2026-12-04T16:30:00+0100"), Some(NOW));
        assert_eq!(iso_time("2026-12-04T10:30:00-05:00"), Some(NOW));
        for bad in [
            "2026-12-04",
            "2026-13-04T15:30:00Z",
            "2026-12-04T25:30:00Z",
            "2026-12-04T15:30:00",
            "2026-12-04T15:30:00.+00:00",
            "26-12-04T15:30:00Z",
        ] {
            assert_eq!(iso_time(bad), None, "{bad}");
        }
        assert_eq!(traditional_time("Dec  4 15:30:00", NOW), Some(NOW));
        // A date after now (by more than a day) is last year's.
        let last_year = days_from_civil(2025, 12, 31) * 86_400 + 3600;
        assert_eq!(traditional_time("Dec 31 01:00:00", NOW), Some(last_year));
        assert_eq!(traditional_time("Foo  4 15:30:00", NOW), None);
        assert_eq!(traditional_time("Dec 32 15:30:00", NOW), None);
    }

    #[test]
    fn auth_log_lines() {
        let l = parse_auth_line(
            "2026-12-04T15:29:00.511042+00:00 web sshd[812]: Failed password for root from 203.0.113.7 port 4711 ssh2",
            NOW,
        )
        .unwrap();
        assert_eq!(
            l,
            AuthLine {
                time: NOW - 60,
                program: "sshd",
                pid: Some(812),
                message: "Failed password for root from 203.0.113.7 port 4711 ssh2"
            }
        );
        let l = parse_auth_line(
            "Dec  4 15:29:00 web CRON[99]: pam_unix(cron:session): session opened",
            NOW,
        )
        .unwrap();
        assert_eq!((l.time, l.program, l.pid), (NOW - 60, "CRON", Some(99)));
        let l = parse_auth_line("2026-12-04T15:29:00+0000 web kernel: x: y", NOW).unwrap();
        assert_eq!((l.program, l.pid, l.message), ("kernel", None, "x: y"));
        for other in [
            "-- Boot 2b1c --",
            "    continued message",
            "",
            "Dec  4 15:29:00",
            "Dec  4 15:29:00 web no colon here",
            "2026-12-04T15:29:00+0000 web sshd[x]: y",
            "Dec  4 15:29:00X web sshd[1]: y",
        ] {
            assert_eq!(parse_auth_line(other, NOW), None, "{other:?}");
        }
    }

    #[test]
    fn each_failed_login_is_counted_once_within_the_window() {
        let log = "\
2026-12-04T10:00:00+00:00 web sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2
2026-12-04T15:00:00+00:00 web sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root
2026-12-04T15:00:01+00:00 web sshd[2]: Failed password for root from 203.0.113.7 port 2 ssh2
2026-12-04T15:00:02+00:00 web sshd[2]: Failed password for root from 203.0.113.7 port 2 ssh2
2026-12-04T15:01:00+00:00 web sshd[3]: Invalid user admin from 198.51.100.4 port 3
2026-12-04T15:01:01+00:00 web sshd[3]: Failed password for invalid user admin from 198.51.100.4 port 3 ssh2
2026-12-04T15:02:00+00:00 web sshd[4]: Invalid user oracle from 198.51.100.4 port 4
2026-12-04T15:02:01+00:00 web sshd[4]: Connection closed by invalid user oracle 198.51.100.4 port 4 [preauth]
2026-12-04T15:03:00+00:00 web sshd-session[5]: Connection closed by authenticating user root 198.51.100.9 port 5 [preauth]
2026-12-04T15:04:00+00:00 web sshd[6]: Failed publickey for alice from 192.0.2.1 port 6 ssh2: ED25519 SHA256:x
2026-12-04T15:04:01+00:00 web sshd[6]: Accepted publickey for alice from 192.0.2.1 port 6 ssh2: ED25519 SHA256:y
2026-12-04T15:05:00+00:00 web sshd[7]: Connection closed by 192.0.2.8 port 7 [preauth]
2026-12-04T15:06:00+00:00 web sudo[8]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice
2026-12-04T15:06:09+00:00 web sudo[8]:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/true
2026-12-04T15:07:00+00:00 web login[9]: FAILED LOGIN (1) on '/dev/tty1' FROM 'tty1' FOR 'root', Authentication failure
2026-12-04T15:07:00+00:00 web login[9]: pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=/dev/tty1 ruser= rhost=  user=root
2026-12-04T15:08:00+00:00 web sshd[10]: Accepted password for alice from 192.0.2.1 port 10 ssh2
";
        let since = NOW - 3600;
        // pid 2: two attempts; pid 3: one (its Invalid user line is the same
        // attempt); pid 4 and 5: one connection each; pid 6: a refused key before
        // the accepted one is no failure; pid 7: a port scan is no login; sudo and
        // login: one each (PAM's line, not the program's own summary). The 10:00
        // attempt is older than the window.
        assert_eq!(
            count_failed_logins(log.lines(), since, NOW),
            2 + 1 + 1 + 1 + 1 + 1
        );
        assert_eq!(count_failed_logins(log.lines(), NOW - 6 * 3600, NOW), 8);
        assert_eq!(count_failed_logins(log.lines(), NOW, NOW), 0);
    }

    #[test]
    fn docker_names() {
        assert_eq!(container_names("postiz\n\n redis \n"), ["postiz", "redis"]);
        assert!(container_names("").is_empty());
    }
}
