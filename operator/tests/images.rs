//! What this machine can check of the images and the kind path without a Docker engine:
//! both Dockerfiles parsed into instructions and held to the rules (multi-stage, static
//! distroless final stage, non-root, exec-form entrypoint, OCI labels with the crate's
//! version and license), the make targets that build and load them (and find the built
//! binaries where cargo put them), the kind script's syntax and the CI workflow that runs
//! it.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One Dockerfile instruction: keyword and its arguments (continuations joined).
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

fn parse(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if t.starts_with('#') {
            continue; // comment inside a continued instruction
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (k, a) = current.split_once(' ').unwrap_or((current.as_str(), ""));
                assert!(
                    KEYWORDS.contains(&k.to_uppercase().as_str()) && k == k.to_uppercase(),
                    "unknown or lower-case instruction {k:?}"
                );
                out.push(Instruction {
                    keyword: k.into(),
                    args: a.trim().into(),
                });
                current.clear();
            }
        }
    }
    assert!(current.is_empty(), "dangling line continuation");
    out
}

fn workspace_license() -> String {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    cargo
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn dockerfiles_follow_the_image_rules() {
    for (file, bin, package) in [
        (
            "operator/Dockerfile",
            "pitstop-operator",
            "pitstop-operator",
        ),
        ("workloads/Dockerfile", "pitstop", "pitstop-workloads"),
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let ins = parse(&text);
        let froms: Vec<usize> = ins
            .iter()
            .enumerate()
            .filter(|(_, i)| i.keyword == "FROM")
            .map(|(n, _)| n)
            .collect();
        assert!(froms.len() >= 2, "{file}: multi-stage");
        for &f in &froms {
            assert!(
                !ins[f].args.contains(":latest"),
                "{file}: pinned base images"
            );
        }
        let last = *froms.last().unwrap();
        assert!(
            ins[last].args.starts_with("gcr.io/distroless/static")
                && ins[last].args.contains("nonroot"),
            "{file}: final stage is distroless static, nonroot: {}",
            ins[last].args
        );
        let build = &ins[..last];
        assert!(
            build.iter().any(|i| i.keyword == "RUN"
                && i.args.contains(&format!("-p {package}"))
                && i.args.contains("--locked")),
            "{file}: builds {package} with the lock file"
        );
        let fin = &ins[last..];
        let user = fin
            .iter()
            .rev()
            .find(|i| i.keyword == "USER")
            .expect("USER");
        let uid = user.args.split(':').next().unwrap();
        assert!(
            uid.parse::<u32>().is_ok_and(|u| u != 0),
            "{file}: numeric non-root USER"
        );
        let entry = fin
            .iter()
            .find(|i| i.keyword == "ENTRYPOINT")
            .expect("ENTRYPOINT");
        let exec: Vec<String> = serde_json::from_str(&entry.args).expect("exec form");
        assert_eq!(exec, [format!("/usr/local/bin/{bin}")], "{file}");
        assert!(
            fin.iter().any(|i| i.keyword == "COPY"
                && i.args.starts_with("--from=")
                && i.args.ends_with(&format!("/usr/local/bin/{bin}"))),
            "{file}: copies the binary"
        );
        assert!(
            !fin.iter().any(|i| i.keyword == "RUN"),
            "{file}: no shell at run time"
        );
        let labels: String = fin
            .iter()
            .filter(|i| i.keyword == "LABEL")
            .map(|i| i.args.as_str())
            .collect();
        for key in ["title", "description", "version", "source", "licenses"] {
            assert!(
                labels.contains(&format!("org.opencontainers.image.{key}=")),
                "{file}: OCI label {key}"
            );
        }
        assert!(labels.contains("org.opencontainers.image.version=\"${VERSION}\""));
        assert!(labels.contains(&format!(
            "org.opencontainers.image.licenses=\"{}\"",
            workspace_license()
        )));
        assert!(
            fin.iter()
                .any(|i| i.keyword == "ARG" && i.args.starts_with("VERSION"))
        );
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target/"),
        "the build context skips target/"
    );
}

/// `make images` tags both images with the crate version, which scripts/version.sh reads.
#[test]
fn image_version_is_the_crate_version() {
    let out = Command::new(root().join("scripts/version.sh"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
    let make = std::fs::read_to_string(root().join("Makefile")).unwrap();
    for needle in [
        "docker build -f operator/Dockerfile --build-arg VERSION=$(VERSION)",
        "docker build -f workloads/Dockerfile --build-arg VERSION=$(VERSION)",
        "kind-e2e: kind-up",
        "E2E_CLUSTER=current KIND_CLUSTER=$(KIND_CLUSTER) scripts/e2e.py",
        "scripts/oci-image.py --dockerfile operator/Dockerfile",
        "scripts/oci-image.py --dockerfile workloads/Dockerfile",
    ] {
        assert!(make.contains(needle), "Makefile: {needle}");
    }
}

/// The make targets' commands (`make -n`: nothing is built or run) with
/// `CARGO_TARGET_DIR` as given (`None`: unset).
fn make_dry_run(target_dir: Option<&str>) -> String {
    let mut make = Command::new("make");
    make.args(["-n", "demo", "bench", "bench-plugin", "images", "manifests"])
        .current_dir(root())
        // Not the caller's make (`make test`) nor its cargo: only the printed commands.
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env("CARGO", "cargo");
    match target_dir {
        Some(dir) => make.env("CARGO_TARGET_DIR", dir),
        None => make.env_remove("CARGO_TARGET_DIR"),
    };
    let out = make.output().expect("make runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every make target that runs or packs a built binary takes it from where cargo put
/// it: `CARGO_TARGET_DIR` when set, else `target/`. `make demo` and `make bench` used to
/// run `target/release/pitstop` regardless and failed with "No such file or directory".
#[test]
fn make_targets_find_binaries_where_cargo_builds_them() {
    let elsewhere = "/nonexistent/pitstop-build";
    for (dir, prefix) in [(Some(elsewhere), elsewhere), (None, "target")] {
        let commands = make_dry_run(dir);
        for used in [
            "/release/pitstop demo",
            "/release/pitstop bench",
            "/release/kubectl-pitstop $args",
            "/debug/pitstop-operator crd",
            "/release/pitstop-operator --name",
            "/images/pitstop-operator.oci.tar",
            "/release/pitstop --name",
            "/images/pitstop.oci.tar",
        ] {
            let want = format!("{prefix}{used}");
            assert!(commands.contains(&want), "no {want:?} in:\n{commands}");
        }
        if dir.is_some() {
            assert!(!commands.contains("target/"), "{commands}");
        }
    }
    // make e2e's script finds the binaries the same way.
    let e2e_target = |dir: Option<&str>| {
        let mut py = Command::new("python3");
        py.args([
            "-c",
            "import sys; sys.path.insert(0, 'scripts'); import e2e; print(e2e.TARGET)",
        ])
        .current_dir(root())
        .env("PYTHONDONTWRITEBYTECODE", "1");
        match dir {
            Some(d) => py.env("CARGO_TARGET_DIR", d),
            None => py.env_remove("CARGO_TARGET_DIR"),
        };
        let out = py.output().expect("python3 runs");
        assert!(out.status.success(), "{out:?}");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    };
    assert_eq!(e2e_target(Some(elsewhere)), PathBuf::from(elsewhere));
    let default = e2e_target(None);
    assert!(default.ends_with("target"), "{default:?}");
    assert_eq!(
        default.parent().unwrap().canonicalize().unwrap(),
        root().canonicalize().unwrap()
    );
}

/// The kind script parses (bash -n) and refuses an unknown step; the workflow runs it.
#[test]
fn kind_path_is_wired() {
    for script in [
        "scripts/kind.sh",
        "scripts/tools.sh",
        "scripts/services.sh",
        "scripts/render-k8s.sh",
        "scripts/kit.sh",
    ] {
        let ok = Command::new("bash")
            .args(["-n", script])
            .current_dir(root())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script} has a syntax error");
    }
    for script in ["scripts/e2e.py", "scripts/oci-image.py"] {
        let ok = Command::new("python3")
            .args([
                "-c",
                "import ast,sys; ast.parse(open(sys.argv[1]).read())",
                script,
            ])
            .current_dir(root())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script} has a syntax error");
    }
    let out = Command::new("bash")
        .args(["scripts/kind.sh", "sideways"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
    let wf: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join(".github/workflows/kind-e2e.yml")).unwrap(),
    )
    .unwrap();
    let steps = wf["jobs"]["kind-e2e"]["steps"].as_sequence().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["run"].as_str() == Some("make kind-e2e"))
    );
}
