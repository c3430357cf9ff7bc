//! The embedded baseline is safe on any host: on a container or VM host (Docker,
//! Podman, libvirt, ...) it never turns packet forwarding off, which would cut the
//! guests' outbound traffic; elsewhere it does.

use crate::support::*;

fn forwarding_planned(env: &Env) -> (bool, String) {
    let out = env.harden(&["plan", "--format", "json"]);
    expect_code(&out, 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = plan.to_string();
    let forwarding = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["rule_id"] == "kernel.ip-forward");
    (forwarding, text)
}

#[test]
fn ip_forward_is_turned_off_only_where_nothing_forwards_for_guests() {
    let plain = Env::new();
    let (planned, text) = forwarding_planned(&plain);
    assert!(planned, "no forwarding rule on a plain host: {text}");

    for runtime in ["usr/bin/dockerd", "usr/bin/podman", "usr/sbin/libvirtd"] {
        let env = Env::new();
        env.write(runtime, "#!/bin/sh\n");
        env.chmod(runtime, 0o755);
        let (planned, text) = forwarding_planned(&env);
        assert!(!planned, "{runtime}: forwarding turned off: {text}");
        let name = runtime.rsplit('/').next().unwrap();
        assert!(
            text.contains(&format!("container or VM host ({name} installed)")),
            "{runtime}: the skip is not explained: {text}"
        );
        // The rest of the kernel hardening still applies there.
        assert!(text.contains("kernel.sysctl"), "{text}");
    }
}
