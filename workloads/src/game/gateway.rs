//! The gateway's receiving side: each datagram, live from the socket or from a recording,
//! is recorded, decoded, counted and assembled; what it completes is queued for the
//! sender without waiting (a full queue drops, counted). Then `/health`, `/ready`,
//! `/metrics` and `/status` on :8000.

use super::assemble::{Assembler, Output};
use super::decode::{PACKET_KINDS, decode};
use super::metrics::{BACKLOG_FULL, GatewayMetrics, SOCKET_OVERFLOW};
use super::record::{Recorder, Recording};
use super::send::{Queued, SendState};
use super::socket::KernelDrops;
use crate::errors::chain;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The receiving side's state: one per gateway.
pub struct Gateway {
    asm: Assembler,
    metrics: GatewayMetrics,
    tx: mpsc::Sender<Queued>,
    recorder: Option<Recorder>,
    out: Vec<Output>,
    /// Control outputs waiting for room in the queue.
    held: std::collections::VecDeque<Queued>,
    /// Drop counts already added to the metrics, by reason.
    counted: BTreeMap<&'static str, u64>,
}

impl Gateway {
    pub fn new(
        session: Option<&str>,
        metrics: GatewayMetrics,
        tx: mpsc::Sender<Queued>,
        recorder: Option<Recorder>,
    ) -> Self {
        Gateway {
            asm: Assembler::new(session),
            metrics,
            tx,
            recorder,
            out: Vec::new(),
            held: std::collections::VecDeque::new(),
            counted: BTreeMap::new(),
        }
    }

    /// One datagram that arrived at `arrival_ms` (Unix ms) / `arrived`.
    pub fn datagram(&mut self, bytes: &[u8], arrival_ms: i64, arrived: Instant) {
        if let Some(r) = &mut self.recorder
            && let Err(e) = r.write(bytes, arrived)
        {
            tracing::error!(error = %chain(&e), "recording stopped");
            self.recorder = None;
        }
        match decode(bytes) {
            Ok(p) => {
                let kind = PACKET_KINDS[p.header.kind as usize];
                self.metrics.datagrams.with_label_values(&[kind]).inc();
                self.asm.push(p, arrival_ms, &mut self.out);
            }
            Err(why) => self
                .metrics
                .dropped
                .with_label_values(&[why.as_str()])
                .inc(),
        }
        self.queue(arrived);
    }

    /// Sends on what every session still holds.
    pub fn flush(&mut self) {
        self.asm.flush(&mut self.out);
        self.queue(Instant::now());
    }

    /// The socket has been silent for `silence`: what waits for a datagram goes on, and
    /// after [`QUIET_AFTER_FLAG`] a session that has shown the flag finishes.
    pub fn idle(&mut self, silence: Duration) {
        self.asm.flush(&mut self.out);
        if silence >= QUIET_AFTER_FLAG {
            self.asm.finish_flagged(&mut self.out);
        }
        self.queue(Instant::now());
    }

    /// The queue and what is still held for it, for a stopping gateway to deliver.
    pub fn into_held(self) -> (mpsc::Sender<Queued>, Vec<Queued>) {
        (self.tx, self.held.into())
    }

    pub fn finish_recording(&mut self) {
        if let Some(r) = self.recorder.take()
            && let Err(e) = r.finish()
        {
            tracing::error!(error = %chain(&e), "recording not flushed");
        }
    }

    /// `total`: what the kernel has dropped on the socket so far (its buffer was full).
    pub fn kernel_dropped(&mut self, total: u64) {
        let seen = self.counted.entry(SOCKET_OVERFLOW).or_default();
        if total > *seen {
            let lost = total - *seen;
            tracing::warn!(
                lost,
                total,
                "the kernel dropped datagrams the gateway did not read in time"
            );
            self.metrics
                .dropped
                .with_label_values(&[SOCKET_OVERFLOW])
                .inc_by(lost);
            *seen = total;
        }
    }

    pub fn all_finished(&self) -> bool {
        self.asm.all_finished()
    }

    fn queue(&mut self, arrived: Instant) {
        // Control outputs (start, race control, the flag) are never dropped: what does not
        // fit waits, in order, and samples behind it are shed until it has gone.
        while let Some(held) = self.held.pop_front() {
            if let Err(e) = self.tx.try_send(held) {
                self.held.push_front(e.into_inner());
                break;
            }
        }
        for out in self.out.drain(..) {
            let samples = match &out {
                Output::Samples(_, s) => s.len() as u64,
                _ => 0,
            };
            if samples == 0 {
                if !self.held.is_empty() {
                    self.held.push_back((arrived, out));
                } else if let Err(e) = self.tx.try_send((arrived, out)) {
                    self.held.push_back(e.into_inner());
                }
            } else if !self.held.is_empty() || self.tx.try_send((arrived, out)).is_err() {
                self.metrics
                    .dropped
                    .with_label_values(&[BACKLOG_FULL])
                    .inc_by(samples);
            }
        }
        self.metrics.sessions.set(self.asm.sessions() as i64);
        for (why, n) in &self.asm.dropped {
            let seen = self.counted.entry(why.as_str()).or_default();
            if *n > *seen {
                self.metrics
                    .dropped
                    .with_label_values(&[why.as_str()])
                    .inc_by(n - *seen);
                *seen = *n;
            }
        }
    }
}

/// Receives datagrams until `stop` is set. A frame's half that has not come after
/// [`IDLE_FLUSH`] of silence is not coming: what waits for it goes on, so the flag of a
/// race whose last car's telemetry was lost is still sent; a race whose last Lap Data
/// was lost finishes after [`QUIET_AFTER_FLAG`]. What the kernel dropped is counted.
pub async fn listen(socket: tokio::net::UdpSocket, gw: Arc<Mutex<Gateway>>, stop: Arc<AtomicBool>) {
    let kernel = KernelDrops::of(&socket);
    if kernel.is_none() {
        tracing::warn!("datagrams the kernel drops cannot be counted here (no /proc)");
    }
    // The largest game packet is under 1,500 bytes; a bigger datagram is truncated by
    // the kernel to this and refused by decode.
    let mut buf = vec![0u8; 2048];
    let (mut last, mut checked) = (Instant::now(), Instant::now());
    // The silence already acted on: none, a flush, the flag's finish.
    let mut acted = QUIET_AFTER_FLAG;
    while !stop.load(Ordering::Relaxed) {
        let recv =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
        match recv {
            Ok(Ok((n, _from))) => {
                let now = crate::util::now_ms();
                (last, acted) = (Instant::now(), Duration::ZERO);
                gw.lock()
                    .expect("not poisoned")
                    .datagram(&buf[..n], now, last);
            }
            Ok(Err(e)) => tracing::warn!(error = %chain(&e), "UDP receive failed"),
            Err(_) => {}
        }
        let silence = last.elapsed();
        if (acted < IDLE_FLUSH && silence >= IDLE_FLUSH)
            || (acted < QUIET_AFTER_FLAG && silence >= QUIET_AFTER_FLAG)
        {
            gw.lock().expect("not poisoned").idle(silence);
            acted = silence;
        }
        if checked.elapsed() >= Duration::from_secs(1) {
            checked = Instant::now();
            count_kernel_drops(kernel.as_ref(), &gw);
        }
    }
    count_kernel_drops(kernel.as_ref(), &gw);
}

fn count_kernel_drops(kernel: Option<&KernelDrops>, gw: &Mutex<Gateway>) {
    if let Some(total) = kernel.and_then(KernelDrops::read) {
        gw.lock().expect("not poisoned").kernel_dropped(total);
    }
}

/// Silence after which no datagram still due is waited for.
pub const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// Silence after the chequered flag that ends the session: the game streams on through
/// the cool-down lap and the results, so a minute without a datagram means it stopped
/// (or was paused that long after the flag: what comes later is counted `finished`).
pub const QUIET_AFTER_FLAG: Duration = Duration::from_secs(60);

/// Feeds a recording at `speed`× the pace it was recorded at (`None`: flat out). Times
/// are the recording's, so a replay gives the same samples at any speed; its silences
/// are acted on as live ones, and its end as a silence after which a flagged race is over.
pub async fn replay(rec: &Recording, gw: &Mutex<Gateway>, speed: Option<f64>) {
    let t0 = Instant::now();
    // A recording waits for the sender (a file is not the game: nothing need be shed).
    let tx = gw.lock().expect("not poisoned").tx.clone();
    let mut previous_us = None;
    for (at_us, bytes) in &rec.datagrams {
        // A silence in the recording is acted on as it was live.
        let gap = Duration::from_micros(at_us.saturating_sub(previous_us.unwrap_or(*at_us)));
        if gap >= IDLE_FLUSH {
            gw.lock().expect("not poisoned").idle(gap);
        }
        previous_us = Some(*at_us);
        if let Some(speed) = speed {
            let due = Duration::from_secs_f64(*at_us as f64 / 1e6 / speed);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        while tx.capacity() < REPLAY_ROOM {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let arrival_ms = rec.start_ms.saturating_add((*at_us / 1000) as i64);
        gw.lock()
            .expect("not poisoned")
            .datagram(bytes, arrival_ms, Instant::now());
        if speed.is_none() {
            // Flat out still lets the sender run between datagrams' batches.
            tokio::task::yield_now().await;
        }
    }
    // Nothing comes after the recording: a race that has shown the flag is over.
    gw.lock().expect("not poisoned").idle(QUIET_AFTER_FLAG);
}

/// Queue slots a replay keeps free before its next datagram (one datagram completes a
/// handful of outputs at most).
const REPLAY_ROOM: usize = 64;

/// Stops a gateway: what it still holds goes out (waiting for room in the queue, the
/// start, race control and the flag included), the recording is flushed, and the queue
/// closes so the sender ends once it has sent everything. Whether every session finished.
pub async fn close(gw: Gateway) -> bool {
    let mut gw = gw;
    gw.flush();
    gw.finish_recording();
    let finished = gw.all_finished();
    let (tx, held) = gw.into_held();
    for q in held {
        if tx.send(q).await.is_err() {
            break;
        }
    }
    finished
}

/// What `/status` and the probes read.
#[derive(Clone)]
pub struct Probe {
    pub metrics: GatewayMetrics,
    pub send: Arc<SendState>,
    /// The UDP socket is bound (or a replay is running).
    pub ready: Arc<AtomicBool>,
    /// (when, datagrams total) a second or more ago, for the rate.
    pub rate: Arc<Mutex<(Instant, u64, f64)>>,
}

pub async fn serve(listener: tokio::net::TcpListener, probe: Probe) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .route(pitstop_contract::paths::GATEWAY_STATUS, get(status))
        .with_state(probe);
    axum::serve(listener, app).await
}

async fn ready(State(p): State<Probe>) -> impl IntoResponse {
    if p.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not listening yet")
    }
}

async fn render(State(p): State<Probe>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&p.metrics.registry),
    )
}

async fn status(State(p): State<Probe>) -> impl IntoResponse {
    let total = p.metrics.datagrams_total();
    let per_second = {
        let mut r = p.rate.lock().expect("not poisoned");
        let elapsed = r.0.elapsed().as_secs_f64();
        if elapsed >= 1.0 {
            r.2 = (total.saturating_sub(r.1)) as f64 / elapsed;
            *r = (Instant::now(), total, r.2);
        }
        r.2
    };
    let dropped = p.metrics.dropped_total();
    axum::Json(serde_json::json!({
        "datagrams_per_second": per_second,
        "sessions_seen": p.metrics.sessions.get(),
        "datagrams": total,
        "dropped": dropped,
        "finished": p.send.finished.load(Ordering::Relaxed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::synth;

    /// A full queue sheds samples, never the start or race control, and keeps their order.
    #[test]
    fn a_full_queue_sheds_samples_and_holds_control() {
        let (tx, mut rx) = mpsc::channel(1);
        let metrics = GatewayMetrics::new();
        let mut gw = Gateway::new(Some("s"), metrics.clone(), tx, None);
        let now = Instant::now();
        let t0 = 1_764_900_000_000;
        let p = synth::participants(1, 0.0, 1, &[("A", 1, 5)]);
        gw.datagram(&p, t0, now);
        gw.datagram(&synth::session(1, 0.0, 1, 11, 3, 0), t0, now); // Start: queued
        gw.datagram(&synth::session(1, 0.1, 2, 11, 3, 1), t0, now); // safety car: held
        for f in 3..10u32 {
            let t = f as f32 / 20.0;
            let lap = crate::game::decode::CarLap {
                lap: 1,
                racing: true,
                ..Default::default()
            };
            let tel = crate::game::decode::CarTelemetry::default();
            gw.datagram(&synth::laps(1, t, f, &[lap]), t0, now);
            gw.datagram(&synth::telemetry(1, t, f, &[tel]), t0, now);
        }
        assert!(metrics.dropped.with_label_values(&[BACKLOG_FULL]).get() > 0);
        assert!(matches!(rx.try_recv().unwrap().1, Output::Start(_)));
        gw.datagram(b"??", t0, now); // room again: the held output goes first
        assert!(matches!(
            rx.try_recv().unwrap().1,
            Output::RaceControl(_, _, "safety_car")
        ));
    }

    /// How long after its last datagram `rec` sent over a real socket finishes its
    /// session (`None`: not within 20 s).
    async fn finishes_after(rec: crate::game::record::Recording) -> Option<Duration> {
        let (tx, mut rx) = mpsc::channel(4_096);
        let gw = Gateway::new(Some("s"), GatewayMetrics::new(), tx, None);
        let gw = Arc::new(Mutex::new(gw));
        let socket = crate::game::socket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let listening = tokio::spawn(listen(socket, gw, stop.clone()));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for (_, d) in &rec.datagrams {
            sender.send_to(d, to).unwrap();
        }
        let sent = Instant::now();
        let finished = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some((_, out)) = rx.recv().await {
                if matches!(out, Output::Finish(_)) {
                    return sent.elapsed();
                }
            }
            Duration::MAX
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        listening.await.unwrap();
        finished.ok()
    }

    /// The race's last datagrams lost on the way, and the game silent after them. The
    /// last car's telemetry as it takes the flag: after a second the frame waiting for it
    /// goes on, and its Lap Data finishes the session (over a real socket). That frame's
    /// Lap Data too: a minute's silence after the flag finishes it. Before these, both
    /// waited for the gateway to stop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_race_whose_last_datagrams_were_lost_still_finishes() {
        let race = crate::game::play::synthesized(2, 1, 150.0, 20.0);
        let mut no_telemetry = race.clone();
        no_telemetry.datagrams.pop();
        let a = finishes_after(no_telemetry.clone()).await;
        let a = a.expect("no flag 20 s after the last telemetry was lost");
        assert!(a >= IDLE_FLUSH && a < Duration::from_secs(5), "{a:?}");

        let (tx, mut rx) = mpsc::channel(4_096);
        let mut gw = Gateway::new(Some("s"), GatewayMetrics::new(), tx, None);
        let now = Instant::now();
        let frames = &no_telemetry.datagrams[..no_telemetry.datagrams.len() - 1];
        for (_, d) in frames {
            gw.datagram(d, 1_764_900_000_000, now);
        }
        let finish = |rx: &mut mpsc::Receiver<Queued>| {
            std::iter::from_fn(|| rx.try_recv().ok()).any(|(_, o)| matches!(o, Output::Finish(_)))
        };
        gw.idle(IDLE_FLUSH);
        gw.idle(QUIET_AFTER_FLAG - Duration::from_millis(1));
        assert!(!finish(&mut rx), "a car still racing at the last Lap Data");
        gw.idle(QUIET_AFTER_FLAG);
        assert!(finish(&mut rx), "the flag after a minute's silence");
    }

    /// Datagrams the kernel dropped before the gateway read them reach its metric: with
    /// the socket flooded before it listens, what it read plus `socket_overflow` is what
    /// was sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_the_kernel_dropped_is_in_the_metrics() {
        let socket = crate::game::socket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        if crate::game::socket::KernelDrops::of(&socket).is_none() {
            eprintln!("skipped: no /proc/self/fd here to find the socket's inode");
            return;
        }
        let to = socket.local_addr().unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent = 8_000u64;
        for _ in 0..sent {
            sender.send_to(&[0u8; 1_400], to).unwrap();
        }
        let (tx, _rx) = mpsc::channel(16);
        let metrics = GatewayMetrics::new();
        let gw = Gateway::new(None, metrics.clone(), tx, None);
        let stop = Arc::new(AtomicBool::new(false));
        let listening = tokio::spawn(listen(socket, Arc::new(Mutex::new(gw)), stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        listening.await.unwrap();
        let overflow = metrics.dropped.with_label_values(&[SOCKET_OVERFLOW]).get();
        // Each datagram read is refused by decode, under some reason.
        let read = metrics.dropped_total() - overflow;
        assert!(
            overflow > 0,
            "8,000 datagrams before the first read overflow"
        );
        assert_eq!(read + overflow, sent, "{read} read, {overflow} overflowed");
    }
}
