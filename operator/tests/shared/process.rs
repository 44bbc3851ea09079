//! The operator binary as the tests start it, and what `/proc` says of a process: shared
//! by the in-memory harness (`support/operator.rs`) and the real-API-server one
//! (`kit/operator.rs`).

use std::path::PathBuf;

/// The binary cargo built for this test (debug or `--release`), unless
/// `PITSTOP_OPERATOR_BIN` names another (e.g. a saved build to compare against).
pub fn binary() -> PathBuf {
    std::env::var_os("PITSTOP_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_pitstop-operator").into())
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
