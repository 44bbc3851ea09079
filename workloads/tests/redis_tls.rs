//! `rediss://` against a real `redis-server --tls-port` the test starts with a CA of its
//! own: a race through TLS with every sample committed once; a wrong CA, a wrong host
//! name and a plaintext-only server each fail with the reason that names them; a server
//! that asks for client certificates takes ours and refuses a client without one.

mod common;

use common::servers::free_port;
use common::tls::{Ca, Dir};
use common::{Env, assert_exactly_once, race};
use pitstop_workloads::datastore_problem::{Problem, classify};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::redis_conn::{RedisTarget, TlsFiles, connect_async};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// A redis-server serving TLS only, killed on drop.
struct TlsRedis {
    port: u16,
    child: Child,
}

impl TlsRedis {
    /// A redis-server of the test's own on a free port. The port is free when asked, not
    /// when the server binds it: a server that finds it taken (the other test's, started
    /// at the same moment) exits, while the port answers for the other one. So the
    /// server must still run once the port answers, else another port is tried.
    fn start(ca: &Path, cert: &Path, key: &Path, client_certs: bool) -> TlsRedis {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("redis-server")
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca)
                .args([
                    "--tls-auth-clients",
                    if client_certs { "yes" } else { "no" },
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server (run through `make test`, which installs it)");
            let deadline = Instant::now() + Duration::from_secs(20);
            let exited = |c: &mut Child| c.try_wait().unwrap().is_some();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && !exited(&mut child)
            {
                assert!(Instant::now() < deadline, "TLS redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            // A bind failure ends the server within milliseconds of its start.
            std::thread::sleep(Duration::from_millis(200));
            if !exited(&mut child) {
                return TlsRedis { port, child };
            }
        }
        panic!("TLS redis-server exited five times: its port was taken each time");
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn trusting(ca: &Ca) -> TlsFiles {
    TlsFiles {
        ca: Some(ca.cert_file.to_str().unwrap().into()),
        ..TlsFiles::default()
    }
}

/// PING through `url`; the classified problem if it fails.
async fn ping(url: &str, tls: &TlsFiles) -> Result<(), Problem> {
    let target = RedisTarget::open_with(url, tls).unwrap();
    let mut con = connect_async(&target).await.map_err(|e| classify(&e))?;
    redis::cmd("PING")
        .query_async::<String>(&mut con)
        .await
        .map(|_| ())
        .map_err(|e| classify(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_through_tls_and_each_failure_named() {
    let dir = Dir::new("redis-tls");
    let ca = Ca::new(&dir.0, "right");
    let server = ca.server_cert(&dir.0, &["localhost", "127.0.0.1"], false);
    let redis = TlsRedis::start(&ca.cert_file, &server.cert_file, &server.key_file, false);
    let url = format!("rediss://localhost:{}", redis.port);

    // The right CA: a whole race through TLS, every sample once.
    let mut env = Env::on("redis_tls", url.clone(), Env::shared_database_url()).await;
    env.keys = pitstop_workloads::stream::StreamKeys::new(env.keys.base.clone(), 4);
    let mut c = ProcessorConfig::new(&url, &env.database_url, &env.keys.base);
    c.consumer = "tls".into();
    c.redis_tls = trusting(&ca);
    let p = Processor::start(c, None).await.unwrap();
    let report = run_race(
        race("tls", 2, 6, 3, 0.0),
        env.keys.clone(),
        RedisTarget::open_with(&url, &trusting(&ca)).unwrap(),
        PublishConfig {
            time_scale: None,
            rate: None,
            batch_max: 64,
            maxlen: 1_000_000,
        },
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let db = env.db().await;
    wait_finished(&db, "tls", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "tls", &report.truth.published).await;
    p.shutdown().await;

    // A CA that did not sign the server's certificate.
    let other = Ca::new(&dir.0, "other");
    assert_eq!(
        ping(&url, &trusting(&other)).await,
        Err(Problem::TlsUntrustedCertificate)
    );
    // The system's roots do not know a private CA either.
    assert_eq!(
        ping(&url, &TlsFiles::default()).await,
        Err(Problem::TlsUntrustedCertificate)
    );
    // A name the certificate does not carry.
    let named = Dir::new("redis-tls-named");
    let only_db = ca.server_cert(&named.0, &["db.example"], false);
    let misnamed = TlsRedis::start(&ca.cert_file, &only_db.cert_file, &only_db.key_file, false);
    assert_eq!(
        ping(
            &format!("rediss://127.0.0.1:{}", misnamed.port),
            &trusting(&ca)
        )
        .await,
        Err(Problem::TlsHostnameMismatch)
    );
    // A plaintext-only server (the shared one) asked for TLS.
    let plain = Env::shared_redis_url().replacen("redis://", "rediss://", 1);
    // Its handshake waits (the server reads the ClientHello as a command) and looks
    // like an absent server; the diagnosis finds the plaintext server behind it.
    let target = RedisTarget::open_with(&plain, &trusting(&ca)).unwrap();
    let e = ping(&plain, &trusting(&ca)).await.unwrap_err();
    assert_eq!(target.diagnose(e).await, Problem::TlsNotOffered);
    // An absent server stays unreachable.
    let gone = format!("rediss://127.0.0.1:{}", free_port());
    let target = RedisTarget::open_with(&gone, &trusting(&ca)).unwrap();
    let e = ping(&gone, &trusting(&ca)).await.unwrap_err();
    assert_eq!(target.diagnose(e).await, Problem::Unreachable);
    env.cleanup().await;
}

/// `--tls-auth-clients yes`: our certificate is taken, no certificate is refused.
#[tokio::test]
async fn client_certificates_when_the_server_asks() {
    let dir = Dir::new("redis-mtls");
    let ca = Ca::new(&dir.0, "mtls");
    let server = ca.server_cert(&dir.0, &["localhost"], false);
    let redis = TlsRedis::start(&ca.cert_file, &server.cert_file, &server.key_file, true);
    let url = format!("rediss://localhost:{}", redis.port);
    let client_dir = Dir::new("redis-mtls-client");
    let client = ca.server_cert(&client_dir.0, &["pitstop-processor"], false);
    let with_cert = TlsFiles {
        ca: Some(ca.cert_file.to_str().unwrap().into()),
        client_cert: Some(client.cert_file.to_str().unwrap().into()),
        client_key: Some(client.key_file.to_str().unwrap().into()),
    };
    assert_eq!(ping(&url, &with_cert).await, Ok(()));
    assert!(
        ping(&url, &trusting(&ca)).await.is_err(),
        "no client certificate"
    );
}
