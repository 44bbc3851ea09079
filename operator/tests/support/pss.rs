//! The "restricted" Pod Security Standard, as the checks every pod template must pass.

use k8s_openapi::api::core::v1::PodSpec;

/// Panics with `what` and the container name when a pod would be rejected under the
/// restricted standard, or lacks resources or probes.
pub fn assert_restricted(pod: &PodSpec, what: &str) {
    check(pod, what, true)
}

/// The same for run-to-completion pods (Jobs), which have no probes.
pub fn assert_restricted_job(pod: &PodSpec, what: &str) {
    check(pod, what, false)
}

fn check(pod: &PodSpec, what: &str, probes: bool) {
    let ps = pod
        .security_context
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no pod securityContext"));
    assert_eq!(ps.run_as_non_root, Some(true), "{what}");
    assert_eq!(
        ps.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault"),
        "{what}"
    );
    assert!(
        pod.host_network != Some(true) && pod.host_pid != Some(true),
        "{what}"
    );
    for ctr in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        let at = format!("{what}/{}", ctr.name);
        let sc = ctr
            .security_context
            .as_ref()
            .unwrap_or_else(|| panic!("{at}: no securityContext"));
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{at}");
        assert_eq!(
            sc.capabilities.as_ref().and_then(|c| c.drop.as_deref()),
            Some(&["ALL".to_string()][..]),
            "{at}"
        );
        assert_ne!(sc.privileged, Some(true), "{at}");
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{at}");
        let r = ctr.resources.as_ref().unwrap();
        assert!(r.requests.is_some() && r.limits.is_some(), "{at}");
        assert!(
            !probes || (ctr.liveness_probe.is_some() && ctr.readiness_probe.is_some()),
            "{at}"
        );
        assert!(
            ctr.env
                .iter()
                .flatten()
                .all(|e| !e.name.contains("PASSWORD") || e.value.is_none()),
            "{at}: secrets only by reference"
        );
    }
}
