//! A loopback TCP proxy in front of one Redis node that loses one reply: the first time
//! a client sends bytes holding a marker, they (and what follows for a moment) reach the
//! server, which runs the call, and the connection is then closed with no reply passed
//! on. That is a network cut or a failover between a write and its answer, made
//! deterministic: the Redis Cluster client sends the call again on a new connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long the cut connection still carries the client's bytes (the rest of a large
/// call) while the server's replies are dropped.
const CUT_AFTER: Duration = Duration::from_millis(300);

pub struct ReplyCut {
    pub addr: SocketAddr,
    cuts: Arc<AtomicUsize>,
    armed: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl ReplyCut {
    /// Listening once this returns; forwards to `127.0.0.1:target` until dropped, and
    /// cuts once [`ReplyCut::arm`] is called.
    pub async fn start(target: u16, marker: &[u8]) -> ReplyCut {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let armed = Arc::new(AtomicBool::new(false));
        let marker: Arc<[u8]> = marker.into();
        let (counted, armed_here) = (cuts.clone(), armed.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (marker, armed, cuts) = (marker.clone(), armed.clone(), counted.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await {
                        pipe(client, server, &marker, &armed, &cuts).await;
                    }
                });
            }
        });
        ReplyCut {
            addr,
            cuts,
            armed: armed_here,
            task,
        }
    }

    /// The next call holding the marker loses its reply.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Replies lost so far (0 or 1).
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for ReplyCut {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    marker: &[u8],
    armed: &AtomicBool,
    cuts: &AtomicUsize,
) {
    let (mut up, mut down) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    // The last bytes sent, so a marker split between two reads is found.
    let mut tail: Vec<u8> = Vec::new();
    let mut cut_at: Option<tokio::time::Instant> = None;
    loop {
        let deadline = cut_at.map(|t| t + CUT_AFTER);
        tokio::select! {
            r = client.read(&mut up) => {
                let Ok(n @ 1..) = r else { return };
                tail.extend_from_slice(&up[..n]);
                if cut_at.is_none()
                    && tail.windows(marker.len()).any(|w| w == marker)
                    && armed.swap(false, Ordering::SeqCst)
                {
                    // Set before the call reaches the server: its reply cannot pass.
                    cut_at = Some(tokio::time::Instant::now());
                }
                tail.drain(..tail.len().saturating_sub(marker.len()));
                if server.write_all(&up[..n]).await.is_err() {
                    return;
                }
            }
            r = server.read(&mut down) => {
                let Ok(n @ 1..) = r else { return };
                if cut_at.is_none() && client.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
            () = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => {
                cuts.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }
}
