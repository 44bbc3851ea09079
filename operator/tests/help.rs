//! `pitstop-operator --help` as an operator meets it: every subcommand's help, in both
//! spellings, names the environment variables it reads and never shows their values
//! (a processor base URL or an image reference may carry credentials).

use std::process::Command;

const SECRET: &str = "s3cr3t";

/// The string-valued variables the binary reads, each set to a value with the secret.
const ENV: &[(&str, &str)] = &[
    (
        "PITSTOP_PROCESSOR_BASE_URL",
        "http://admin:s3cr3t@127.0.0.1:1",
    ),
    (
        "PITSTOP_WORKLOADS_IMAGE",
        "registry.example/s3cr3t/pitstop:1",
    ),
    ("WATCH_NAMESPACES", "s3cr3t-ns"),
    ("POD_NAMESPACE", "s3cr3t-ns"),
    ("POD_NAME", "s3cr3t-pod"),
    ("PITSTOP_OPERATOR_SERVICE", "s3cr3t-svc"),
];

/// `pitstop-operator <args>` with [`ENV`] set: its exit status and what it printed.
fn operator(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pitstop-operator"))
        .args(args)
        .envs(ENV.iter().copied())
        .output()
        .expect("the binary runs");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), shown)
}

/// `--help` of every subcommand, in both spellings, shows no value of the environment
/// (`run --help` printed `[env: PITSTOP_PROCESSOR_BASE_URL=http://admin:…@…]`), and
/// still names the variables.
#[test]
fn help_never_shows_values_from_the_environment() {
    let subcommands = ["crd", "run", "render", "reference", "prometheus-adapter"];
    let (ok, top) = operator(&["--help"]);
    assert!(ok, "{top}");
    for sub in subcommands {
        assert!(top.contains(sub), "{sub} missing from:\n{top}");
        for args in [vec![sub, "--help"], vec!["help", sub]] {
            let (ok, shown) = operator(&args);
            assert!(ok, "{args:?}: {shown}");
            assert!(!shown.contains(SECRET), "{args:?} shows a value:\n{shown}");
            assert!(shown.contains("--"), "{args:?} printed no help:\n{shown}");
        }
    }
    let (_, run) = operator(&["run", "--help"]);
    for (var, _) in ENV {
        assert!(
            run.contains(&format!("[env: {var}]")),
            "{var} is no longer named:\n{run}"
        );
    }
}
