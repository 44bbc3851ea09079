//! How every process reaches Redis: bounded connect and reply times, connections that
//! come back after Redis restarts, and errors that name the server once.
//!
//! Three shapes, by who holds the connection:
//! - [`RedisHandle`]: long-lived, shared (the processor's lease manager and API). The
//!   redis crate's `ConnectionManager`, created lazily so a process starts while Redis is
//!   down, re-established after a drop by one connect attempt at a time, each started by
//!   a call ([`SharedConnection`]).
//! - [`connect_async`]: one task's own multiplexed connection (a partition consumer); the
//!   task fails on an error and its supervisor starts it again with a new one.
//! - [`connect_sync`]: the publisher's blocking connection, with socket timeouts so a
//!   stalled server cannot hold its thread (and SIGTERM) for minutes.

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Value};
use std::time::Duration;

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

fn async_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

/// A task's own multiplexed connection with bounded connect and reply times.
pub async fn connect_async(client: &Client) -> Result<MultiplexedConnection, RedisError> {
    client
        .get_multiplexed_async_connection_with_config(&async_config())
        .await
}

/// A blocking connection whose connect, reads and writes are all bounded.
pub fn connect_sync(client: &Client) -> Result<redis::Connection, RedisError> {
    let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    con.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
    con.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
    Ok(con)
}

/// A shared connection that survives Redis restarts. Cloning is cheap (one connection
/// underneath). Calls made while Redis is away fail with the error within
/// [`CONNECT_TIMEOUT`]; the next call after it is back succeeds.
#[derive(Clone)]
pub struct RedisHandle {
    manager: ConnectionManager,
    endpoint: String,
}

impl RedisHandle {
    /// Does not connect: the first call does (so a processor starts with Redis down).
    pub fn new(client: &Client) -> Result<Self, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // One connect attempt per reconnect. Every call made meanwhile awaits that
            // attempt, so retries inside it would hold them all: with 4 retries a Redis
            // that accepts and never answers kept each call waiting 5 × 5 s plus the
            // backoff. A failed attempt fails the calls waiting on it, and the next call
            // starts a new one (and waits for it, see `SharedConnection`), so an outage is
            // still retried for as long as it lasts, at the pace of the calls (the lease
            // manager's round at least).
            .set_number_of_retries(0);
        Ok(RedisHandle {
            manager: ConnectionManager::new_lazy_with_config(client.clone(), config)?,
            endpoint: endpoint(client),
        })
    }

    /// The connection to issue commands on (a clone of the shared one).
    pub fn con(&self) -> SharedConnection {
        SharedConnection(self.manager.clone())
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// A clone of the shared connection. A call that meets a refused connect, which is the
/// outcome of the last attempt and may be stale (made while Redis was down; the error
/// has started a new attempt), waits for that new attempt once: so the first call after
/// Redis is back succeeds instead of failing on the old outcome. A refused connect sent
/// nothing, so repeating the call cannot apply it twice; any other error is returned.
#[derive(Clone)]
pub struct SharedConnection(ConnectionManager);

impl ConnectionLike for SharedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.req_packed_command(cmd).await {
                Err(e) if e.is_connection_refusal() => self.0.req_packed_command(cmd).await,
                r => r,
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
            match self.0.req_packed_commands(pipeline, offset, count).await {
                Err(e) if e.is_connection_refusal() => {
                    self.0.req_packed_commands(pipeline, offset, count).await
                }
                r => r,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
