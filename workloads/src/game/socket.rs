//! The gateway's UDP socket: bound with a receive buffer big enough to ride out a busy
//! machine, and the datagrams the kernel dropped when that buffer was full anyway, so a
//! loss the gateway never saw is still counted.
//!
//! The game sends 1,500–2,000 datagrams a second and never resends one. With Linux's
//! default buffer (208 KiB, about 90 of the game's datagrams) a receiver that is not
//! scheduled for 50 ms loses some; the 4 MiB asked for here (capped by
//! `net.core.rmem_max`) holds about a second.

use crate::errors::chain;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// The receive buffer asked for; the kernel caps it at `net.core.rmem_max`.
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// A non-blocking UDP socket bound to `addr`, its receive buffer as large as allowed.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::warn!(error = %chain(&e), "the UDP receive buffer stays at the system's default");
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    let bytes = socket.recv_buffer_size().unwrap_or(0);
    tracing::debug!(bytes, "UDP receive buffer");
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Counts what the kernel dropped for one socket, from `/proc/net/udp{,6}`.
pub struct KernelDrops {
    inode: u64,
}

impl KernelDrops {
    /// `None` where the socket's inode cannot be read (not Linux, no `/proc`).
    pub fn of(socket: &impl AsRawFd) -> Option<Self> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        let inode = link
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()?;
        Some(KernelDrops { inode })
    }

    /// Datagrams dropped since the socket was made (`None`: not found).
    pub fn read(&self) -> Option<u64> {
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .find_map(|table| drops(&table, self.inode))
    }
}

/// The `drops` column of the socket with `inode` in a `/proc/net/udp` table.
pub fn drops(table: &str, inode: u64) -> Option<u64> {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let matches = fields.get(9)?.parse::<u64>().ok()? == inode;
        matches.then(|| fields.get(12)?.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  120: 0100007F:9E95 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 0
  398: 00000000:0044 00000000:0000 07 00000000:0003F000 00:00000000 00000000     0        0 99001 2 0000000000000000 1734
";

    #[test]
    fn the_drops_of_the_socket_with_its_inode() {
        assert_eq!(drops(TABLE, 99001), Some(1734));
        assert_eq!(drops(TABLE, 81234), Some(0));
        assert_eq!(drops(TABLE, 5), None);
        assert_eq!(drops("", 5), None);
    }

    /// A socket nobody reads overflows; every datagram sent is either received or counted
    /// as dropped by the kernel, none unaccounted.
    #[tokio::test]
    async fn every_datagram_is_received_or_counted_as_dropped() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let Some(kernel) = KernelDrops::of(&socket) else {
            eprintln!("skipped: no /proc/self/fd here to find the socket's inode");
            return;
        };
        assert_eq!(kernel.read(), Some(0));
        let to = socket.local_addr().unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let datagram = [7u8; 1_400];
        let sent = 8_000u64;
        for _ in 0..sent {
            sender.send_to(&datagram, to).unwrap();
        }
        let mut received = 0u64;
        let mut buf = [0u8; 2_048];
        let next = std::time::Duration::from_millis(200);
        while let Ok(Ok(_)) = tokio::time::timeout(next, socket.recv_from(&mut buf)).await {
            received += 1;
        }
        let dropped = kernel.read().unwrap();
        // Linux reports twice what was set (its bookkeeping), capped at rmem_max.
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .map_or(0, |s| s.trim().parse().unwrap_or(0));
        let got = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        assert!(
            got >= RECEIVE_BUFFER.min(max),
            "{got} bytes of {max} allowed"
        );
        assert!(
            dropped > 0,
            "8,000 datagrams unread overflow {received} received"
        );
        assert_eq!(
            received + dropped,
            sent,
            "{received} received, {dropped} dropped"
        );
    }
}
