//! How every process reaches Redis: one server or a Redis Cluster, over TCP or TLS,
//! with bounded connect and reply times, connections that come back after Redis
//! restarts (or a cluster fails over), and errors that name the server once.
//!
//! [`RedisTarget`] is what a URL names: `redis://` / `rediss://` (one server) or
//! `redis+cluster://host:port[,host:port…]` / `rediss+cluster://…` (a cluster, reached
//! through any of the listed nodes). TLS trusts the system's roots, or the CA of
//! `PITSTOP_REDIS_CA_FILE`, and presents the client certificate of
//! `PITSTOP_REDIS_CLIENT_CERT_FILE` / `_KEY_FILE` to a server that asks for one.
//!
//! Three shapes of connection, by who holds it:
//! - [`RedisHandle`]: long-lived, shared (the processor's lease manager and API). The
//!   redis crate's `ConnectionManager` (one server), created lazily so a process starts
//!   while Redis is down, re-established after a drop by one connect attempt at a time,
//!   each started by a call ([`SharedConnection`]); or a lazily created cluster
//!   connection, which follows MOVED/ASK and refreshes its slot map itself.
//! - [`connect_async`]: one task's own multiplexed connection (a partition consumer); the
//!   task fails on an error and its supervisor starts it again with a new one.
//! - [`connect_sync`]: the publisher's blocking connection, with socket timeouts so a
//!   stalled server cannot hold its thread (and SIGTERM) for minutes.
//!
//! Nothing here sends a command that spans slots: see [`crate::stream::StreamKeys`].

use crate::datastore_problem::Problem;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, Cmd, Pipeline, RedisError, RedisFuture,
    TlsCertificates, Value,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Time to establish a connection (TCP and handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to wait for any reply. Longer than every `BLOCK` we issue (at most 250 ms) and
/// than a healthy Redis' worst pause; a server stalled past it fails the call instead of
/// hanging the caller.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// `host:port` of the client's server (never the password).
pub fn endpoint(client: &Client) -> String {
    client.get_connection_info().addr().to_string()
}

/// Why a Redis URL or its TLS files cannot be used (at start: not retried).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("invalid Redis URL: {0}")]
    Url(String),
    #[error("cannot read {what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is set but the Redis URL is not rediss:// (TLS)")]
    TlsFilesWithoutTls(&'static str),
    #[error("{0}")]
    Redis(#[from] RedisError),
}

/// The TLS material of `rediss://`: file paths, read once at start.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

impl TlsFiles {
    /// From `PITSTOP_REDIS_CA_FILE`, `PITSTOP_REDIS_CLIENT_CERT_FILE` and
    /// `PITSTOP_REDIS_CLIENT_KEY_FILE` (empty = unset).
    pub fn from_env() -> Self {
        use pitstop_contract::env;
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        TlsFiles {
            ca: get(env::REDIS_CA_FILE),
            client_cert: get(env::REDIS_CLIENT_CERT_FILE),
            client_key: get(env::REDIS_CLIENT_KEY_FILE),
        }
    }

    fn any(&self) -> Option<&'static str> {
        use pitstop_contract::env;
        if self.ca.is_some() {
            Some(env::REDIS_CA_FILE)
        } else if self.client_cert.is_some() || self.client_key.is_some() {
            Some(env::REDIS_CLIENT_CERT_FILE)
        } else {
            None
        }
    }

    fn certificates(&self) -> Result<TlsCertificates, TargetError> {
        let read = |what: &'static str, path: &String| {
            std::fs::read(path).map_err(|source| TargetError::File {
                what,
                path: path.clone(),
                source,
            })
        };
        let client_tls = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read("client certificate", cert)?,
                client_key: read("client key", key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(TargetError::Url(
                    "a client certificate needs both its certificate and key file".into(),
                ));
            }
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert: self.ca.as_ref().map(|ca| read("CA file", ca)).transpose()?,
        })
    }
}

/// One Redis server or a Redis Cluster, as its URL names it.
#[derive(Clone)]
pub struct RedisTarget {
    kind: Kind,
    endpoint: String,
    /// With TLS: the (first) server's host and port, to tell a server that speaks only
    /// plaintext from one that is away ([`RedisTarget::diagnose`]).
    tls_addr: Option<(String, u16)>,
}

// One per process, cloned rarely: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Kind {
    Single(Client),
    Cluster(Box<ClusterClient>),
}

/// The URLs of a cluster's seed nodes, when `url` names a cluster.
fn cluster_nodes(url: &str) -> Result<Option<Vec<String>>, TargetError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("redis+cluster://") {
        ("redis", rest)
    } else if let Some(rest) = url.strip_prefix("rediss+cluster://") {
        ("rediss", rest)
    } else {
        return Ok(None);
    };
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.split(['/', '?']).next().unwrap_or("");
    let nodes: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("{scheme}://{auth}{h}"))
        .collect();
    if nodes.is_empty() {
        return Err(TargetError::Url(
            "a cluster URL names at least one node: redis+cluster://host:port[,host:port…]".into(),
        ));
    }
    Ok(Some(nodes))
}

impl RedisTarget {
    /// The target of `url` with the TLS files of the environment.
    pub fn open(url: &str) -> Result<Self, TargetError> {
        Self::open_with(url, &TlsFiles::from_env())
    }

    pub fn open_with(url: &str, tls: &TlsFiles) -> Result<Self, TargetError> {
        let secure = url.starts_with("rediss://") || url.starts_with("rediss+cluster://");
        if let (false, Some(var)) = (secure, tls.any()) {
            return Err(TargetError::TlsFilesWithoutTls(var));
        }
        let certs = if secure && tls.any().is_some() {
            Some(tls.certificates()?)
        } else {
            None
        };
        let first = match cluster_nodes(url)? {
            Some(nodes) => nodes.first().cloned().unwrap_or_default(),
            None => url.to_owned(),
        };
        let tls_addr =
            match Client::open(first.as_str()).map(|c| c.get_connection_info().addr().clone()) {
                Ok(redis::ConnectionAddr::TcpTls { host, port, .. }) => Some((host, port)),
                _ => None,
            };
        if let Some(nodes) = cluster_nodes(url)? {
            let endpoint = nodes
                .iter()
                .filter_map(|n| Client::open(n.as_str()).ok())
                .map(|c| endpoint(&c))
                .collect::<Vec<_>>()
                .join(",");
            let mut b = ClusterClientBuilder::new(nodes)
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(RESPONSE_TIMEOUT);
            if let Some(certs) = certs {
                b = b.certs(certs);
            }
            return Ok(RedisTarget {
                kind: Kind::Cluster(Box::new(b.build()?)),
                endpoint: format!("cluster {endpoint}"),
                tls_addr,
            });
        }
        let client = match certs {
            Some(certs) => Client::build_with_tls(url, certs)?,
            None => Client::open(url)?,
        };
        Ok(RedisTarget {
            endpoint: endpoint(&client),
            kind: Kind::Single(client),
            tls_addr,
        })
    }

    /// `host:port` (or `cluster host:port,…`), never the password.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }

    /// Sharpens the problem of a failed call: a TLS handshake with a server that speaks
    /// only plaintext does not fail, it waits (the server reads the ClientHello as the
    /// start of a command), so it looks like an unreachable server. If the server
    /// answers a plaintext `PING` at once, TLS is what it lacks.
    pub async fn diagnose(&self, problem: Problem) -> Problem {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Some((host, port)) = &self.tls_addr else {
            return problem;
        };
        if !matches!(
            problem,
            Problem::Unreachable | Problem::ConnectionClosed | Problem::Other
        ) {
            return problem;
        }
        let probe = async {
            let mut s = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            s.write_all(b"PING\r\n").await?;
            let mut first = [0u8; 1];
            s.read_exact(&mut first).await?;
            Ok::<_, std::io::Error>(matches!(first[0], b'+' | b'-'))
        };
        match tokio::time::timeout(Duration::from_secs(1), probe).await {
            Ok(Ok(true)) => Problem::TlsNotOffered,
            _ => problem,
        }
    }
}

fn async_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

/// A task's own connection with bounded connect and reply times.
pub async fn connect_async(target: &RedisTarget) -> Result<AsyncConn, RedisError> {
    Ok(match &target.kind {
        Kind::Single(client) => AsyncConn::Single(
            client
                .get_multiplexed_async_connection_with_config(&async_config())
                .await?,
        ),
        Kind::Cluster(client) => AsyncConn::Cluster(client.get_async_connection().await?),
    })
}

/// An async connection to one server or to a cluster.
#[derive(Clone)]
pub enum AsyncConn {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for AsyncConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            AsyncConn::Single(c) => c.req_packed_command(cmd),
            AsyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            AsyncConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            AsyncConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            AsyncConn::Single(c) => c.get_db(),
            AsyncConn::Cluster(c) => c.get_db(),
        }
    }
}

/// A blocking connection whose connect, reads and writes are all bounded.
pub fn connect_sync(target: &RedisTarget) -> Result<SyncConn, RedisError> {
    Ok(match &target.kind {
        Kind::Single(client) => {
            let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
            con.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
            con.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
            SyncConn::Single(con)
        }
        Kind::Cluster(client) => {
            let con = client.get_connection()?;
            con.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
            con.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
            SyncConn::Cluster(Box::new(con))
        }
    })
}

/// A blocking connection to one server or to a cluster.
pub enum SyncConn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl SyncConn {
    /// Runs each group of commands atomically; each group touches one slot (`key`, the
    /// group's first key). One server: all groups in one MULTI/EXEC, one round trip; a
    /// cluster: one script per group ([`RUN`]), routed to the group's master (the sync
    /// cluster client does not carry a MULTI/EXEC pipeline through).
    pub fn transactions(&mut self, groups: &[(String, Vec<Cmd>)]) -> redis::RedisResult<()> {
        if groups.is_empty() {
            return Ok(());
        }
        match self {
            SyncConn::Single(c) => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for cmd in groups.iter().flat_map(|(_, cmds)| cmds) {
                    pipe.add_command(cmd.clone()).ignore();
                }
                pipe.query::<()>(c)
            }
            SyncConn::Cluster(c) => groups.iter().try_for_each(|(key, cmds)| {
                let mut run = redis::cmd("EVAL");
                run.arg(RUN).arg(1).arg(key);
                for cmd in cmds {
                    let args: Vec<&[u8]> = cmd
                        .args_iter()
                        .filter_map(|a| match a {
                            redis::Arg::Simple(b) => Some(b),
                            _ => None,
                        })
                        .collect();
                    run.arg(args.len());
                    for a in args {
                        run.arg(a);
                    }
                }
                run.query::<()>(c.as_mut())
            }),
        }
    }

    /// Runs commands that each touch one slot, in order: one round trip on one server
    /// (a pipeline), one per command on a cluster (whose pipelines go to one node).
    pub fn each(&mut self, cmds: &[Cmd]) -> redis::RedisResult<()> {
        if cmds.is_empty() {
            return Ok(());
        }
        match self {
            SyncConn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone()).ignore();
                }
                pipe.query::<()>(c)
            }
            SyncConn::Cluster(c) => cmds.iter().try_for_each(|cmd| cmd.query::<()>(c.as_mut())),
        }
    }
}

/// Runs the commands of ARGV (each its argument count, then its arguments) in one
/// atomic step; KEYS[1] routes it (every key it touches shares KEYS[1]'s slot).
const RUN: &str = r#"
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 0
"#;

impl redis::ConnectionLike for SyncConn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<Value> {
        match self {
            SyncConn::Single(c) => c.req_packed_command(cmd),
            SyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        match self {
            SyncConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            SyncConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        match self {
            SyncConn::Single(c) => c.req_command(cmd),
            SyncConn::Cluster(c) => c.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            SyncConn::Single(c) => c.get_db(),
            SyncConn::Cluster(c) => c.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            SyncConn::Single(c) => c.check_connection(),
            SyncConn::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            SyncConn::Single(c) => c.is_open(),
            SyncConn::Cluster(c) => c.is_open(),
        }
    }
}

/// A shared connection that survives Redis restarts. Cloning is cheap (one connection
/// underneath). Calls made while Redis is away fail with the error within
/// [`CONNECT_TIMEOUT`]; the next call after it is back succeeds.
#[derive(Clone)]
pub struct RedisHandle {
    shared: Shared,
    endpoint: String,
    /// Until when (ms) writes do not wait for replicas ([`RedisHandle::replicated`]).
    wait_paused_until: Arc<std::sync::atomic::AtomicI64>,
}

#[derive(Clone)]
enum Shared {
    Single(ConnectionManager),
    /// Connected by the first call that needs it (a failed connect is tried again by
    /// the next call); then the cluster connection reconnects and re-routes itself.
    Cluster(
        Box<ClusterClient>,
        Arc<OnceCell<redis::cluster_async::ClusterConnection>>,
    ),
}

impl RedisHandle {
    /// Does not connect: the first call does (so a processor starts with Redis down).
    pub fn new(target: &RedisTarget) -> Result<Self, RedisError> {
        let shared = match &target.kind {
            Kind::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    // One connect attempt per reconnect. Every call made meanwhile awaits
                    // that attempt, so retries inside it would hold them all: with 4
                    // retries a Redis that accepts and never answers kept each call
                    // waiting 5 × 5 s plus the backoff. A failed attempt fails the calls
                    // waiting on it, and the next call starts a new one (and waits for
                    // it, see `SharedConnection`), so an outage is still retried for as
                    // long as it lasts, at the pace of the calls (the lease manager's
                    // round at least).
                    .set_number_of_retries(0);
                Shared::Single(ConnectionManager::new_lazy_with_config(
                    client.clone(),
                    config,
                )?)
            }
            Kind::Cluster(client) => Shared::Cluster(client.clone(), Arc::new(OnceCell::new())),
        };
        Ok(RedisHandle {
            shared,
            endpoint: target.endpoint.clone(),
            wait_paused_until: Arc::default(),
        })
    }

    /// The connection to issue commands on (a clone of the shared one).
    pub fn con(&self) -> SharedConnection {
        SharedConnection(self.shared.clone())
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// A clone of the shared connection. With one server, a call that meets a refused
/// connect, which is the outcome of the last attempt and may be stale (made while Redis
/// was down; the error has started a new attempt), waits for that new attempt once: so
/// the first call after Redis is back succeeds instead of failing on the old outcome. A
/// refused connect sent nothing, so repeating the call cannot apply it twice; any other
/// error is returned.
#[derive(Clone)]
pub struct SharedConnection(Shared);

async fn cluster_con(
    client: &ClusterClient,
    cell: &OnceCell<redis::cluster_async::ClusterConnection>,
) -> Result<redis::cluster_async::ClusterConnection, RedisError> {
    let con = cell
        .get_or_try_init(|| async {
            tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
                .await
                .map_err(|_| {
                    RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connecting to the Redis Cluster timed out",
                    ))
                })?
        })
        .await?;
    Ok(con.clone())
}

/// How long a write in a Redis Cluster waits for its master's replica
/// ([`RedisHandle::replicated`]).
pub const REPLICA_WAIT: Duration = Duration::from_millis(200);

/// After a wait no replica confirmed, how long writes do not wait (a master without a
/// replica would otherwise cost every write [`REPLICA_WAIT`]).
pub const REPLICA_PAUSE: Duration = Duration::from_secs(10);

/// `WAIT 1` on the master of each of `keys` over `con`, all at once: how many of them no
/// replica confirmed within [`REPLICA_WAIT`]. A master's `WAIT` counts the replicas that
/// have what *this connection* wrote, so it must go over the connection that wrote.
async fn unconfirmed(
    con: &redis::cluster_async::ClusterConnection,
    keys: &[String],
) -> Result<usize, RedisError> {
    use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
    let waits = keys.iter().map(|key| {
        let mut con = con.clone();
        let mut wait = redis::cmd("WAIT");
        wait.arg(1).arg(REPLICA_WAIT.as_millis() as u64);
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
            key,
            SlotAddr::Master,
        )));
        async move {
            let v = con.route_command(wait, route).await?;
            Ok::<i64, RedisError>(redis::from_redis_value(v)?)
        }
    });
    let acked = futures_util::future::try_join_all(waits).await?;
    Ok(acked.iter().filter(|&&n| n < 1).count())
}

impl AsyncConn {
    /// In a Redis Cluster: waits, at most [`REPLICA_WAIT`], until a replica of each
    /// master holding one of `keys` has what this connection wrote there; answers how
    /// many no replica confirmed. Unlike [`RedisHandle::replicated`] it waits every
    /// time (for rare writes: dead letters). One server: 0.
    pub async fn replicated(&self, keys: &[String]) -> Result<usize, RedisError> {
        match self {
            AsyncConn::Single(_) => Ok(0),
            AsyncConn::Cluster(con) => unconfirmed(con, keys).await,
        }
    }
}

impl RedisHandle {
    /// In a Redis Cluster: waits, at most [`REPLICA_WAIT`], until a replica of each
    /// master holding one of `keys` has what this handle's connection wrote there
    /// (`WAIT 1` on that master, all at once), so a write acknowledged to a client
    /// survives its master's failover (the cluster replicates asynchronously). Answers
    /// how many of `keys` no replica confirmed: none in the cluster, or lagging; then
    /// writes wait no more for [`REPLICA_PAUSE`] (counted unconfirmed). One server:
    /// nothing to wait for, 0.
    pub async fn replicated(&self, keys: &[String]) -> Result<usize, RedisError> {
        let Shared::Cluster(client, cell) = &self.shared else {
            return Ok(0);
        };
        let now = crate::util::now_ms();
        if now
            < self
                .wait_paused_until
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(keys.len());
        }
        let con = cluster_con(client, cell).await?;
        let unconfirmed = unconfirmed(&con, keys).await?;
        if unconfirmed > 0 {
            self.wait_paused_until.store(
                now + REPLICA_PAUSE.as_millis() as i64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Ok(unconfirmed)
    }
}

impl ConnectionLike for SharedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match &mut self.0 {
                Shared::Single(m) => match m.req_packed_command(cmd).await {
                    Err(e) if e.is_connection_refusal() => m.req_packed_command(cmd).await,
                    r => r,
                },
                Shared::Cluster(client, cell) => {
                    cluster_con(client, cell)
                        .await?
                        .req_packed_command(cmd)
                        .await
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match &mut self.0 {
                Shared::Single(m) => match m.req_packed_commands(pipeline, offset, count).await {
                    Err(e) if e.is_connection_refusal() => {
                        m.req_packed_commands(pipeline, offset, count).await
                    }
                    r => r,
                },
                Shared::Cluster(client, cell) => {
                    cluster_con(client, cell)
                        .await?
                        .req_packed_commands(pipeline, offset, count)
                        .await
                }
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Shared::Single(m) => m.get_db(),
            Shared::Cluster(..) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        assert_eq!(cluster_nodes("redis://h:1").unwrap(), None);
        assert_eq!(
            cluster_nodes("redis+cluster://a:7000,b:7001")
                .unwrap()
                .unwrap(),
            ["redis://a:7000", "redis://b:7001"]
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://u:p%40w@a:7000,b:7001/0")
                .unwrap()
                .unwrap(),
            ["rediss://u:p%40w@a:7000", "rediss://u:p%40w@b:7001"]
        );
        assert!(cluster_nodes("redis+cluster://").is_err());
    }

    #[test]
    fn endpoints_never_carry_the_password() {
        let t = RedisTarget::open_with(
            "redis+cluster://u:secret@a:7000,b:7001",
            &TlsFiles::default(),
        )
        .unwrap();
        assert!(t.is_cluster());
        assert_eq!(t.endpoint(), "cluster a:7000,b:7001");
        let t = RedisTarget::open_with("redis://:secret@h:6379", &TlsFiles::default()).unwrap();
        assert_eq!(t.endpoint(), "h:6379");
    }

    #[test]
    fn tls_files_need_a_tls_url() {
        let tls = TlsFiles {
            ca: Some("/nonexistent/ca.crt".into()),
            ..TlsFiles::default()
        };
        let e = RedisTarget::open_with("redis://h:6379", &tls)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not rediss://"), "{e}");
        let e = RedisTarget::open_with("rediss://h:6379", &tls)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("cannot read CA file /nonexistent/ca.crt"),
            "{e}"
        );
    }
}
