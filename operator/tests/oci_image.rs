//! `make images` without a Docker engine: scripts/oci-image.py turns a binary and its
//! Dockerfile's final stage into an OCI archive. Checked here on the operator binary this
//! test run built: every digest and size in the archive is the content's, the config says
//! what the Dockerfile says, the layer holds the distroless layout (non-root, no shell), and
//! the same inputs give the same bytes. Where a Docker engine answers, the Dockerfile's own
//! image is built too and both configs are compared.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One entry of a tar archive: mode, uid and contents.
struct Entry {
    mode: u32,
    uid: u32,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(field);
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(s, 8).unwrap_or(0)
}

/// Reads a ustar/pax archive whose names fit the ustar header (ours do: 77 bytes at most).
fn untar(bytes: &[u8]) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut at = 0;
    while at + 512 <= bytes.len() && bytes[at..at + 512].iter().any(|&b| b != 0) {
        let h = &bytes[at..at + 512];
        let size = octal(&h[124..136]) as usize;
        let name = String::from_utf8_lossy(&h[0..100])
            .trim_end_matches('\0')
            .to_string();
        let body = bytes[at + 512..at + 512 + size].to_vec();
        if h[156] != b'x' && h[156] != b'g' {
            let entry = Entry {
                mode: octal(&h[100..108]) as u32,
                uid: octal(&h[108..116]) as u32,
                data: body,
            };
            out.insert(name.trim_end_matches('/').to_string(), entry);
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    out
}

fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn build(out: &Path) -> Vec<u8> {
    let status = Command::new(root().join("scripts/oci-image.py"))
        .args(["--dockerfile", "operator/Dockerfile", "--binary"])
        .arg(env!("CARGO_BIN_EXE_pitstop-operator"))
        .args(["--name", "registry.example/pitstop-operator:1.2.3"])
        .args(["--version", "1.2.3", "--out"])
        .arg(out)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success(), "oci-image.py failed");
    std::fs::read(out).unwrap()
}

/// The blob a descriptor points at, after checking its digest and size.
fn blob<'a>(archive: &'a BTreeMap<String, Entry>, descriptor: &Value) -> &'a [u8] {
    let digest = descriptor["digest"].as_str().unwrap();
    let data = &archive[&format!("blobs/sha256/{}", &digest[7..])].data;
    assert_eq!(sha256(data), digest, "blob content matches its digest");
    assert_eq!(descriptor["size"].as_u64(), Some(data.len() as u64));
    data
}

#[test]
fn archive_is_reproducible_and_its_digests_are_the_contents() {
    let dir = tempfile_dir();
    let first = build(&dir.join("a.tar"));
    let second = build(&dir.join("b.tar"));
    assert!(first == second, "same inputs, same archive bytes");
    let archive = untar(&first);
    assert_eq!(
        archive["oci-layout"].data,
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: Value = serde_json::from_slice(&archive["index.json"].data).unwrap();
    let descriptor = &index["manifests"][0];
    let names = &descriptor["annotations"];
    assert_eq!(
        names["io.containerd.image.name"],
        "registry.example/pitstop-operator:1.2.3"
    );
    assert_eq!(names["org.opencontainers.image.ref.name"], "1.2.3");
    let manifest: Value = serde_json::from_slice(blob(&archive, descriptor)).unwrap();
    let config: Value = serde_json::from_slice(blob(&archive, &manifest["config"])).unwrap();
    let layer = blob(&archive, &manifest["layers"][0]);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer)
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&tar));
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_config_is_the_dockerfiles(&config["config"]);
    assert_distroless_layout(&untar(&tar));
    std::fs::remove_dir_all(dir).ok();
}

fn assert_config_is_the_dockerfiles(c: &Value) {
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/local/bin/pitstop-operator"])
    );
    assert_eq!(c["Cmd"], serde_json::json!(["run"]));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8002/tcp": {}}));
    let labels = &c["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["org.opencontainers.image.title"], "pitstop-operator");
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
}

fn assert_distroless_layout(files: &BTreeMap<String, Entry>) {
    let bin = &files["usr/local/bin/pitstop-operator"];
    assert_eq!((bin.mode, bin.uid), (0o755, 0));
    let original = std::fs::metadata(env!("CARGO_BIN_EXE_pitstop-operator")).unwrap();
    assert!(
        (bin.data.len() as u64) < original.len(),
        "the image's binary is stripped"
    );
    let passwd = String::from_utf8_lossy(&files["etc/passwd"].data);
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert_eq!(files["tmp"].mode, 0o1777);
    assert_eq!(files["home/nonroot"].uid, 65532);
    for shell in ["bin/sh", "usr/bin/sh", "bin/bash", "bin/busybox"] {
        assert!(!files.contains_key(shell), "no shell: {shell}");
    }
    // A glibc build carries its loader and libraries; a static one none.
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_pitstop-operator"))
        .output()
        .unwrap();
    if String::from_utf8_lossy(&ldd.stdout).contains("libc.so.6") {
        assert!(files.contains_key("lib/x86_64-linux-gnu/libc.so.6"));
        assert!(files.contains_key("lib64/ld-linux-x86-64.so.2"));
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pitstop-oci-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where Docker answers: the Dockerfile's image and ours agree on user, entrypoint, command,
/// ports and labels, and both hold the binary at the same path.
#[test]
fn docker_and_oci_image_agree_where_docker_exists() {
    let engine = Command::new("docker").arg("info").output();
    if !engine.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: no Docker engine here; with one, this builds operator/Dockerfile and compares"
        );
        return;
    }
    let tag = "pitstop-operator:oci-compare";
    let built = Command::new("docker")
        .args(["build", "-q", "-f", "operator/Dockerfile"])
        .args(["--build-arg", "VERSION=1.2.3", "-t", tag, "."])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(built.success());
    let inspect = Command::new("docker")
        .args(["image", "inspect", tag])
        .output()
        .unwrap();
    let docker: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_config_is_the_dockerfiles(&docker[0]["Config"]);
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "c=$(docker create {tag}) && docker export $c | tar -t; docker rm $c >/dev/null"
        ))
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&listing.stdout);
    for path in ["usr/local/bin/pitstop-operator", "etc/passwd", "tmp/"] {
        assert!(files.lines().any(|l| l == path), "docker image has {path}");
    }
}
