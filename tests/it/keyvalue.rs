//! `keyvalue`: login.defs, pwquality.conf and faillock.conf edited in place. The
//! first active line of a key is set, later duplicates are commented out, a missing
//! key is appended, everything else stays byte for byte; plan writes nothing, apply
//! then plan is empty, rollback restores the tree. On the Debian 12 root the
//! root's own readers see the result: `useradd` takes its ageing from login.defs,
//! `pwscore` its limits from pwquality.conf.

use crate::debian_root::{debian12, in_root};
use crate::support::*;

const LOGIN_DEFS: &str = "# /etc/login.defs - Configuration control definitions for the login package.\n\
    MAIL_DIR        /var/mail\n\
    UMASK\t\t022\n\
    #\tPASS_MAX_DAYS\tMaximum number of days a password may be used.\n\
    PASS_MAX_DAYS\t99999\n\
    PASS_MIN_DAYS\t0\n\
    PASS_WARN_AGE\t7\n\
    ENCRYPT_METHOD SHA512\n\
    PASS_MAX_DAYS 120\n";

const FAILLOCK: &str = "# Configuration for locking the user after multiple failed\n\
    # authentication attempts.\n\
    # dir = /var/run/faillock\n\
    # audit\n\
    silent\n\
    # deny = 3\n\
    deny=5 # set by the installer\n\
    # unlock_time = 600\n";

/// A `keyvalue` rule `id` on `path` with `separator` and `settings`.
fn kv(id: &str, name: &str, path: &str, separator: &str, settings: serde_json::Value) -> Task {
    let mut params = json!({ "path": path, "separator": separator });
    params["settings"] = settings;
    Task::new(id, "keyvalue", params).name(name)
}

/// Password ageing and the umask in login.defs, faillock's limits.
fn accounts() -> Playbook {
    Playbook::new("kv")
        .task(kv(
            "accounts.ageing",
            "Password ageing",
            "/etc/login.defs",
            " ",
            json!({ "PASS_MAX_DAYS": 365, "PASS_MIN_DAYS": 1 }),
        ))
        .task(kv(
            "accounts.umask",
            "Default umask",
            "/etc/login.defs",
            " ",
            json!({ "UMASK": "027" }),
        ))
        .task(kv(
            "accounts.faillock",
            "Faillock",
            "/etc/security/faillock.conf",
            " = ",
            json!({ "deny": 3, "unlock_time": 900 }),
        ))
}

#[test]
fn first_line_set_duplicates_commented_missing_appended_and_rolled_back() {
    let env = Test::new()
        .file("etc/login.defs", LOGIN_DEFS)
        .file("etc/security/faillock.conf", FAILLOCK)
        .file_mode("etc/security/faillock.conf", 0o640)
        .playbook(&accounts());
    let before = env.tree();

    let plan = env.plan_read_only().code(0).stdout();
    for want in [
        "set PASS_MAX_DAYS, PASS_MIN_DAYS",
        "set UMASK",
        "set deny, unlock_time",
        "+#PASS_MAX_DAYS 120",
        "+unlock_time = 900",
    ] {
        assert!(plan.contains(want), "{want} missing:\n{plan}");
    }

    env.converge_from(&before, |_| {
        assert_eq!(
            env.read("etc/login.defs"),
            LOGIN_DEFS
                .replace("UMASK\t\t022", "UMASK\t\t027")
                .replace("PASS_MAX_DAYS\t99999", "PASS_MAX_DAYS\t365")
                .replace("PASS_MIN_DAYS\t0", "PASS_MIN_DAYS\t1")
                .replace("PASS_MAX_DAYS 120", "#PASS_MAX_DAYS 120")
        );
        assert_eq!(
            env.read("etc/security/faillock.conf"),
            FAILLOCK.replace("deny=5 #", "deny=3 #") + "unlock_time = 900\n"
        );
        assert_eq!(env.mode("etc/security/faillock.conf"), 0o640);
    });
}

#[test]
fn bad_values_separators_and_missing_files_are_errors() {
    let env = Env::new();
    env.write("etc/login.defs", LOGIN_DEFS);
    let task = |params: &str| {
        let p = env.playbook(
            "bad.yml",
            &format!("tasks:\n  - name: t\n    id: t\n    keyvalue: {params}\n"),
        );
        env.harden(&["plan", "-p", p.to_str().unwrap()])
    };
    // A line break is refused when the playbook is read, with its position.
    let out = task(
        "{ path: /etc/login.defs, separator: \" \", settings: { UMASK: \"027\\nUID_MIN 0\" } }",
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("bad.yml:4:") && err.contains("one line"),
        "{err}"
    );
    let out = task("{ path: /etc/login.defs, separator: \"x\", settings: { UMASK: \"027\" } }");
    expect_code(&out, 1);
    assert!(stderr(&out).contains("separator"), "{}", stderr(&out));
    let out = task(
        "{ path: /etc/security/pwquality.conf, separator: \" = \", settings: { minlen: 14 } }",
    );
    expect_code(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = task("{ path: /etc/login.defs, separator: \" \", settings: { UMASK: \" \" } }");
    expect_code(&out, 1);
    assert!(stderr(&out).contains("UMASK"), "{}", stderr(&out));
}

#[test]
fn a_missing_file_is_created_when_asked() {
    let env = Test::new().playbook(&Playbook::unnamed().task(Task::new(
        "t",
        "keyvalue",
        json!({
            "path": "/etc/security/pwquality.conf",
            "create": true,
            "separator": " = ",
            "settings": { "minlen": 14, "minclass": 4 }
        }),
    )));
    env.converge(|_| {
        assert_eq!(
            env.read("etc/security/pwquality.conf"),
            "minclass = 4\nminlen = 14\n"
        );
        assert_eq!(env.mode("etc/security/pwquality.conf"), 0o644);
    });
}

/// The real layout: Debian 12's login.defs and pwquality.conf, read back by the
/// root's own `useradd` and `pwscore`.
#[test]
fn debian12_useradd_and_pwscore_read_the_settings() {
    let env = Test::on(debian12()).playbook(
        &Playbook::new("kv")
            .task(kv(
                "accounts.login-defs",
                "Password ageing",
                "/etc/login.defs",
                " ",
                json!({ "PASS_MAX_DAYS": 365, "PASS_MIN_DAYS": 1, "UMASK": "027" }),
            ))
            .task(kv(
                "accounts.pwquality",
                "Password quality",
                "/etc/security/pwquality.conf",
                " = ",
                json!({ "minlen": 14, "dictcheck": 0 }),
            ))
            .task(kv(
                "accounts.faillock",
                "Faillock",
                "/etc/security/faillock.conf",
                " = ",
                json!({ "deny": 5, "unlock_time": 900 }),
            )),
    );
    let original_defs = env.read("etc/login.defs");
    let original_pwq = env.read("etc/security/pwquality.conf");
    // The root's readers before: no 14-character minimum, Debian's ageing.
    let pwscore = "printf '%s\\n' 'Kq7-vX2pLm9z' | pwscore 2>&1 || true";
    assert!(!in_root(&env, pwscore).contains("shorter than 14"));
    let before = env.tree();

    env.plan_read_only().code(0);
    env.converge_from(&before, |_| {
        // Only the set lines changed.
        let defs = env.read("etc/login.defs");
        assert_eq!(
            defs,
            original_defs
                .replace("\nPASS_MAX_DAYS\t99999\n", "\nPASS_MAX_DAYS\t365\n")
                .replace("\nPASS_MIN_DAYS\t0\n", "\nPASS_MIN_DAYS\t1\n")
                .replace("\nUMASK\t\t022\n", "\nUMASK\t\t027\n")
        );
        assert!(
            env.read("etc/security/pwquality.conf")
                .starts_with(&original_pwq)
        );
        assert!(
            env.read("etc/security/faillock.conf")
                .ends_with("deny = 5\nunlock_time = 900\n")
        );
        // useradd, in a throw-away copy of /etc, ages the new account from login.defs.
        let shadow = in_root(
            &env,
            "mount -t tmpfs tmpfs /mnt; cp -a /etc /mnt/etc; mount --bind /mnt/etc /etc; \
         useradd -l -M probe; grep '^probe:' /etc/shadow",
        );
        let fields: Vec<&str> = shadow.trim().split(':').collect();
        assert_eq!((fields[3], fields[4]), ("1", "365"), "{shadow}");
        // pwscore reads the new minimum and the disabled dictionary check.
        let short = in_root(&env, pwscore);
        assert!(short.contains("shorter than 14 characters"), "{short}");
        let good = in_root(&env, "printf '%s\\n' 'Kq7-vX2pLm9z-Rt4' | pwscore");
        assert!(good.trim().parse::<u32>().is_ok(), "a score: {good}");
    });
}
