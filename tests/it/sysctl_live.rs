//! Live kernel parameters, for real, inside a network namespace: `net.*` values are
//! per namespace; `/proc/sys` is bound read-only around them so no global key can
//! change on this machine.

use std::fmt::Write;
use std::process::Command;

use crate::support::*;

/// Runs harden with root `/` inside `unshare -n -m`, `/proc/sys` read-only except
/// `/proc/sys/net`, then prints the namespace's values of `keys`.
fn in_netns(args: &[&str], keys: &[&str]) -> (i32, String, String) {
    let bin = assert_cmd::cargo::cargo_bin("harden");
    let mut script = String::from(
        "set -e; mount --make-rprivate /; mount --bind /proc/sys /proc/sys; \
         mount -o remount,bind,ro /proc/sys; mount --bind /proc/sys/net /proc/sys/net; \
         mount -o remount,bind,rw /proc/sys/net; set +e; \"$@\"; rc=$?; ",
    );
    for k in keys {
        let _ = write!(
            script,
            "echo \"{k}=$(cat /proc/sys/{})\"; ",
            k.replace('.', "/")
        );
    }
    script.push_str("exit $rc");
    let out = Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", &script, "sh"])
        .arg(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn live_values_converge_in_a_namespace_and_unsupported_keys_are_reported() {
    require("unshare");
    let before_host = std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap();
    let t = tempfile::tempdir().unwrap();
    let conf = t.path().join("99-harden.conf");
    let state = t.path().join("state");
    let pb = t.path().join("pb.yml");
    std::fs::write(
        &pb,
        format!(
            "tasks:\n  - name: net\n    id: net.sysctl\n    sysctl:\n      file: {}\n      settings:\n        net.ipv4.conf.all.rp_filter: 1\n        net.ipv4.conf.all.send_redirects: 0\n        kernel.exec-shield: 1\n",
            conf.display()
        ),
    )
    .unwrap();
    let keys = [
        "net.ipv4.conf.all.rp_filter",
        "net.ipv4.conf.all.send_redirects",
    ];
    let p = pb.to_str().unwrap();
    let s = state.to_str().unwrap();
    let (rc, out, err) = in_netns(&["apply", "--yes", "-p", p, "--state-dir", s], &keys);
    assert_eq!(rc, 2, "{out}\n{err}");
    assert!(
        out.contains("kernel.exec-shield: not supported on this host"),
        "{out}"
    );
    assert!(out.contains("net.ipv4.conf.all.rp_filter=1"), "{out}");
    assert!(out.contains("net.ipv4.conf.all.send_redirects=0"), "{out}");
    let file = std::fs::read_to_string(&conf).unwrap();
    assert!(file.contains("net.ipv4.conf.all.rp_filter = 1"), "{file}");
    assert!(
        !file.contains("exec-shield"),
        "unsupported key written: {file}"
    );
    // A fresh namespace starts from defaults: the file is converged, the live
    // values are not, so the plan shows only the live change.
    let (rc, out, err) = in_netns(
        &["plan", "-p", p, "--state-dir", s, "--detailed-exitcode"],
        &[],
    );
    assert_eq!(rc, 2, "{out}\n{err}");
    assert!(out.contains("/proc/sys (2 keys)"), "{out}");
    assert!(!out.contains("99-harden.conf:"), "{out}");
    // The machine's own values never changed.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap(),
        before_host
    );
}

#[test]
fn a_live_key_the_kernel_refuses_rolls_everything_back() {
    require("unshare");
    let t = tempfile::tempdir().unwrap();
    let conf = t.path().join("99-harden.conf");
    std::fs::write(&conf, "# before\n").unwrap();
    let pb = t.path().join("pb.yml");
    // kernel.* is read-only in the sandbox: the write fails after the net key and
    // the file were written, so both must be restored.
    let current: i64 = std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::write(
        &pb,
        format!(
            "tasks:\n  - name: net\n    id: net.sysctl\n    sysctl:\n      file: {}\n      settings:\n        net.ipv4.conf.all.send_redirects: 0\n        kernel.dmesg_restrict: {}\n",
            conf.display(),
            1 - current
        ),
    )
    .unwrap();
    let state = t.path().join("state");
    let (rc, out, err) = in_netns(
        &[
            "apply",
            "--yes",
            "-p",
            pb.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &["net.ipv4.conf.all.send_redirects"],
    );
    assert_eq!(rc, 4, "{out}\n{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(
        out.contains("net.ipv4.conf.all.send_redirects=1"),
        "net value not restored: {out}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# before\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict")
            .unwrap()
            .trim(),
        current.to_string()
    );
}
