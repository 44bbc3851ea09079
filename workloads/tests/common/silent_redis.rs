//! A Redis that accepts connections, reads what clients send and never answers: the
//! server a wait without a bound hangs on (a stalled host, a proxy whose backend is gone).
//! Optionally it answers the client's connection handshake late and then nothing, so a
//! connect that succeeds is followed by calls that hang.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// A loopback listener that takes every connection and discards every byte.
pub struct SilentRedis {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentRedis {
    /// Listening once this returns; runs on the test's runtime until dropped.
    pub async fn start() -> SilentRedis {
        SilentRedis::serve(None).await
    }

    /// Answers each connection's handshake (the redis crate's two pipelined `CLIENT
    /// SETINFO`) after `delay`, then nothing.
    pub async fn answering_handshake_after(delay: Duration) -> SilentRedis {
        SilentRedis::serve(Some(delay)).await
    }

    async fn serve(handshake: Option<Duration>) -> SilentRedis {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        let task = tokio::spawn(async move {
            let mut readers = tokio::task::JoinSet::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::Relaxed);
                readers.spawn(async move {
                    let mut buf = [0u8; 4096];
                    if let Some(delay) = handshake {
                        if !matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
                            return;
                        }
                        tokio::time::sleep(delay).await;
                        if socket.write_all(b"+OK\r\n+OK\r\n").await.is_err() {
                            return;
                        }
                    }
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        SilentRedis {
            addr,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for SilentRedis {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts the readers.
        self.task.abort();
    }
}
