//! The real `pitstop-operator run` binary against the real API server, out of cluster
//! (`KUBECONFIG` = the kit's): a free port for its :8002, its stderr in a file the test
//! can read, killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

// Also loaded by support/operator.rs: the two harnesses are separate module trees, and
// only at_scale.rs, which uses both, sees the file twice.
#[allow(clippy::duplicate_mod)]
#[path = "../shared/process.rs"]
mod process;
pub use process::binary;

pub struct Operator {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, its :8002.
    pub base: String,
    pub log: PathBuf,
}

/// How to start the operator.
pub struct Launch<'a> {
    pub kubeconfig: &'a std::path::Path,
    /// Its own namespace (the Lease's), `POD_NAMESPACE`.
    pub namespace: &'a str,
    pub args: &'a [&'a str],
    /// Extra environment, e.g. `KUBE_RS_DEBUG_IMPERSONATE_USER` (kube-rs reads it when it
    /// loads the kubeconfig, so the binary runs as that user unchanged) or
    /// `KUBE_RS_DEBUG_OVERRIDE_URL` (to go through a proxy).
    pub env: &'a [(&'a str, String)],
    /// `PITSTOP_LOG`.
    pub log_filter: &'a str,
}

impl Operator {
    pub fn start(l: Launch<'_>) -> Operator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log =
            std::env::temp_dir().join(format!("pitstop-apitest-{}-{port}.log", std::process::id()));
        let child = Command::new(binary())
            .arg("run")
            .args(l.args)
            .args(["--listen", &listen])
            .env("KUBECONFIG", l.kubeconfig)
            .env("POD_NAMESPACE", l.namespace)
            .env("POD_NAME", format!("apitest-operator-{port}"))
            .env("PITSTOP_LOG", l.log_filter)
            .envs(l.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Operator {
            child,
            base: format!("http://{listen}"),
            log,
        }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// `GET <path>` of its :8002, as text (empty while it does not answer yet).
    pub async fn get(&self, path: &str) -> String {
        match reqwest::get(format!("{}{path}", self.base)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// A counter or gauge of its /metrics (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        self.get("/metrics")
            .await
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// Resident memory now, and the most it has had (the kernel's high-water mark).
    pub fn rss_kib(&self) -> (u64, u64) {
        (
            process::status_kib(self.child.id(), "VmRSS:").unwrap_or(0),
            process::status_kib(self.child.id(), "VmHWM:").unwrap_or(0),
        )
    }

    /// Stops it the way a pod is stopped (SIGKILL: no graceful shutdown to lean on).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
