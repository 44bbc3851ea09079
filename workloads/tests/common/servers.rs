//! Throwaway Redis and PostgreSQL servers a test owns, so it can stop, stall and restart
//! them without touching the servers other tests share. `make test` installs the server
//! packages (scripts/services.sh); without them these panic saying so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, up: bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() != up {
        assert!(
            Instant::now() < deadline,
            "{what} on port {port} did not {}",
            if up { "come up" } else { "go down" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pitstop-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A redis-server of the test's own. With `persistent`, every write is fsynced to the
/// append-only file before it is acknowledged, so a restart loses nothing.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    persistent: bool,
    child: Option<Child>,
}

impl Redis {
    pub fn start(persistent: bool) -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            persistent,
            child: None,
        };
        r.spawn();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().unwrap(), "--save", ""]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (make test installs it)");
        self.child = Some(child);
        wait_port(self.port, true, "redis-server");
    }

    /// SIGTERM (Redis flushes its AOF and exits), and waits for the port to close.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "-TERM");
            c.wait().unwrap();
            wait_port(self.port, false, "redis-server");
        }
    }

    /// Starts it again after [`Redis::stop`], on the same port and directory.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// SIGSTOP: the server keeps its connections and answers nothing.
    pub fn pause(&self) {
        signal(self.child.as_ref().unwrap().id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.as_ref().unwrap().id(), "-CONT");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of initdb and pg_ctl (Debian's layout, or on PATH).
fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").exists())
        .collect();
    dirs.sort();
    if let Some(d) = dirs.pop() {
        return d;
    }
    let out = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "initdb not found (make test installs PostgreSQL)"
    );
    Path::new(&path).parent().unwrap().to_path_buf()
}

/// A PostgreSQL cluster of the test's own, run as the `postgres` user when the test runs
/// as root (the server refuses root).
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = temp_dir("pg");
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        if is_root() {
            for d in [&dir, &data] {
                assert!(
                    Command::new("chown")
                        .args(["postgres", d.to_str().unwrap()])
                        .status()
                        .unwrap()
                        .success()
                );
            }
        }
        let pg = Postgres {
            port: free_port(),
            dir,
            bin: pg_bin(),
        };
        let out = pg
            .run("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.ctl("start");
        pg
    }

    fn run(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.join("data");
        let mut cmd = self.run("pg_ctl");
        cmd.args(["-D", data.to_str().unwrap(), "-w", "-m", "fast"]);
        if action != "stop" {
            cmd.args(["-l", self.dir.join("server.log").to_str().unwrap()])
                .args([
                    "-o",
                    &format!(
                        "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
                        self.port,
                        self.dir.display()
                    ),
                ]);
        }
        let out = cmd.arg(action).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait_port(self.port, action != "stop", "postgres");
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn start_again(&self) {
        self.ctl("start");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .run("pg_ctl")
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
