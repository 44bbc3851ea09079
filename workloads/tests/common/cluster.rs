//! A real Redis Cluster on loopback that a test owns: `redis-server --cluster-enabled
//! yes` per node, joined by `redis-cli --cluster create` with one replica per master, so
//! a test can kill a master and watch its replica take over. `make test` installs
//! redis-server (scripts/services.sh); without it this panics saying so.

use super::servers::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: PathBuf,
}

/// One line of `CLUSTER NODES`: address port, flags, slot ranges.
#[derive(Debug)]
pub struct NodeInfo {
    pub port: u16,
    pub master: bool,
    pub failed: bool,
    pub slots: Vec<(u16, u16)>,
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (run through `make test`, which installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// `masters` masters with one replica each; returns once every slot is served.
    pub fn start(masters: usize) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "pitstop-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ports: Vec<u16> = (0..masters * 2).map(|_| free_port()).collect();
        let children = ports
            .iter()
            .map(|&port| {
                let node_dir = dir.join(port.to_string());
                std::fs::create_dir_all(&node_dir).unwrap();
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    // Its own bus port: the default, port + 10000, is refused above 55535,
                    // where a free port can be.
                    .args(["--cluster-port", &free_port().to_string()])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                    .args(["--save", "", "--appendonly", "no"])
                    // A replica's first sync otherwise waits 5 s for others to share it.
                    .args(["--repl-diskless-sync-delay", "0"])
                    .arg("--dir")
                    .arg(&node_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server (run through `make test`, which installs it)");
                Some(child)
            })
            .collect();
        let c = Cluster {
            ports,
            children,
            dir,
        };
        for &port in &c.ports {
            c.wait(Duration::from_secs(20), "a node answers", || {
                cli(port, &["PING"]).trim() == "PONG"
            });
        }
        let nodes: Vec<String> = c.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        c.wait_healthy(Duration::from_secs(30));
        // A replica that has not finished its first sync cannot take over: a master
        // killed before then stays failed (Redis: "disconnected from master for longer
        // than allowed"), which a test killing one early met on a slow machine.
        for &port in &c.ports {
            c.wait(Duration::from_secs(60), "every replica in sync", || {
                let info = cli(port, &["INFO", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            });
        }
        c
    }

    /// The URL the workloads take.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    fn live(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports
            .iter()
            .zip(&self.children)
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| *p)
    }

    /// Polls `done` until it holds; past `limit` panics with every live node's view of
    /// the cluster (which node is failed, who serves what), to say why.
    fn wait(&self, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            if Instant::now() > deadline {
                let views: Vec<String> = self
                    .live()
                    .map(|p| format!("node {p}:\n{}", cli(p, &["CLUSTER", "NODES"])))
                    .collect();
                panic!("timed out waiting for {what}; {}", views.join(""));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every live node says `cluster_state:ok` and every slot has a live master (a
    /// killed one's slots count once its replica has taken them over).
    pub fn wait_healthy(&self, limit: Duration) {
        let live: Vec<u16> = self.live().collect();
        self.wait(limit, "the cluster to be healthy", || {
            self.live()
                .all(|p| cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
                && self
                    .nodes()
                    .iter()
                    .filter(|n| n.master && !n.failed && live.contains(&n.port))
                    .flat_map(|n| n.slots.iter().map(|(a, b)| (b - a) as u32 + 1))
                    .sum::<u32>()
                    == 16384
        });
    }

    /// The cluster's view, as a live node reports it.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        let port = self.live().next().expect("a live node");
        cli(port, &["CLUSTER", "NODES"])
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let addr = f.get(1)?.split('@').next()?;
                let port: u16 = addr.rsplit(':').next()?.parse().ok()?;
                let flags = f.get(2)?;
                let slots = f
                    .iter()
                    .skip(8)
                    .filter(|s| !s.starts_with('['))
                    .filter_map(|s| match s.split_once('-') {
                        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                        None => s.parse().ok().map(|a| (a, a)),
                    })
                    .collect();
                Some(NodeInfo {
                    port,
                    master: flags.contains("master"),
                    failed: flags.contains("fail"),
                    slots,
                })
            })
            .collect()
    }

    /// The port of the master that serves `key` now.
    pub fn master_of(&self, key: &str) -> u16 {
        let port = self.live().next().expect("a live node");
        let slot: u16 = cli(port, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap();
        self.nodes()
            .into_iter()
            .find(|n| {
                n.master
                    && !n.failed
                    && self.live().any(|p| p == n.port)
                    && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
            })
            .map(|n| n.port)
            .expect("a master serves every slot")
    }

    /// Node `port` tells clients to reach it at `as_port` (`cluster-announce-port`: a
    /// proxy in front of it); returns once every live node says so.
    pub fn announce(&self, port: u16, as_port: u16) {
        let reply = cli(
            port,
            &[
                "CONFIG",
                "SET",
                "cluster-announce-port",
                &as_port.to_string(),
            ],
        );
        assert_eq!(
            reply.trim(),
            "OK",
            "CONFIG SET cluster-announce-port: {reply}"
        );
        let wanted = format!("127.0.0.1:{as_port}@");
        self.wait(Duration::from_secs(20), "the new address to spread", || {
            self.live()
                .all(|p| cli(p, &["CLUSTER", "NODES"]).contains(&wanted))
        });
    }

    /// The replicas of master `port`, as it reports them.
    pub fn replicas_of(&self, port: u16) -> Vec<u16> {
        cli(port, &["INFO", "replication"])
            .lines()
            .filter(|l| l.starts_with("slave"))
            .filter_map(|l| l.split(",port=").nth(1)?.split(',').next()?.parse().ok())
            .collect()
    }

    /// SIGSTOP (`stop`) or SIGCONT: the node hangs, as a stalled host does, or goes on.
    pub fn freeze(&self, port: u16, stop: bool) {
        let i = self.ports.iter().position(|&p| p == port).unwrap();
        let child = self.children[i].as_ref().expect("a live node");
        let signal = if stop { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {port}");
    }

    /// SIGKILL: the node vanishes without a word, as a crashed pod does.
    pub fn kill(&mut self, port: u16) {
        let i = self.ports.iter().position(|&p| p == port).unwrap();
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
