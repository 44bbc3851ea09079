//! The real `pitstop-operator run` binary against the in-memory API server over TCP: a
//! kubeconfig pointing at it, a free port for :8002, the process killed when dropped (so
//! no process outlives a failed test), and its memory read from `/proc`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

#[path = "../shared/process.rs"]
mod process;
pub use process::binary;

pub struct Operator {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, its :8002.
    pub base: String,
    dir: PathBuf,
}

impl Operator {
    /// Starts `pitstop-operator run <args>` as pod `operator-0` of `pitstop-system`
    /// against the API server at `api`, logging at `warn` to stderr.
    pub fn start(api: std::net::SocketAddr, args: &[&str]) -> Operator {
        let dir =
            std::env::temp_dir().join(format!("pitstop-op-{}-{}", std::process::id(), api.port()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://{api}\"}}\nusers:\n- name: fake\n  user: {{token: test}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake}}\ncurrent-context: fake\n"
        )).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(binary())
            .arg("run")
            .args(args)
            .args(["--listen", &listen])
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAMESPACE", "pitstop-system")
            .env("POD_NAME", "operator-0")
            .env("PITSTOP_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Operator {
            child,
            base: format!("http://{listen}"),
            dir,
        }
    }

    /// Resident memory now.
    pub fn rss_kib(&self) -> Option<u64> {
        process::status_kib(self.child.id(), "VmRSS:")
    }

    /// The most resident memory the process has had (the kernel's high-water mark).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        process::status_kib(self.child.id(), "VmHWM:")
    }

    /// CPU time the process has used (user and system).
    pub fn cpu(&self) -> Option<std::time::Duration> {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// `GET <path>` of its :8002, as text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// User plus system CPU time of the process whose `stat` file is `path` (e.g.
/// `/proc/self/stat`).
pub fn cpu_of(path: &str) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let hz: u64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100);
    Some(std::time::Duration::from_millis(ticks * 1000 / hz))
}
