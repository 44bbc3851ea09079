//! A TCP relay in front of the API server that the test can cut: every open connection
//! (the operator's watches among them) is closed at once, and new ones are refused until
//! it is restored. TLS passes through untouched, so the client still verifies the real
//! server's certificate (issued for 127.0.0.1, whatever the port).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    up: AtomicBool,
    /// Connections refused while down (what a client's reconnect loop costs).
    refused: AtomicUsize,
    /// Bumped on each cut; a relay ends when it changes.
    cuts: watch::Sender<u64>,
}

impl Proxy {
    /// Relays 127.0.0.1:<free port> to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            refused: AtomicUsize::new(0),
            cuts: watch::channel(0).0,
        });
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !s.up.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::SeqCst);
                    continue; // dropped: the client's handshake fails
                }
                tokio::spawn(relay(inbound, upstream, s.cuts.subscribe()));
            }
        });
        Proxy { addr, state }
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        self.state.cuts.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// Connections refused while cut.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }
}

async fn relay(mut inbound: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<u64>) {
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = cut.changed() => {}
    }
}
