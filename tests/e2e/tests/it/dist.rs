//! The release archive (`dist/dist.sh`, `just dist`), made from the binaries under test:
//! its checksum verifies; it holds the three binaries, the licences (ours and every
//! third-party crate's compiled in) and the example environment files, whose every
//! variable is one the binaries know; and the host unpacked alone in another directory —
//! no source tree, no target directory — serves the bundled model.

use std::path::Path;
use std::process::Command;

use wasml_e2e::load::ROW;
use wasml_e2e::{ScratchDir, http};
use wasml_test_support::process::{Process, host_command};
use wasml_test_support::workspace_binary;

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_release_archive_unpacks_into_binaries_that_serve_alone() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "dist");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binaries = workspace_binary("wasml-host").parent().unwrap().to_owned();
    let out = dir.join("out");
    let archive = run(Command::new(root.join("dist/dist.sh"))
        .arg(&out)
        .env("WASML_DIST_BIN_DIR", &binaries));
    let archive = Path::new(archive.trim());
    assert!(archive.starts_with(&out), "{}", archive.display());
    let sums = run(Command::new("sha256sum")
        .args(["--check", "SHA256SUMS"])
        .current_dir(&out));
    assert!(sums.contains(": OK"), "{sums}");

    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(&unpacked));
    let name = archive
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz");
    let release = unpacked.join(name);
    let mut files: Vec<String> = std::fs::read_dir(&release)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "LICENSE",
            "README.md",
            "THIRD-PARTY-LICENSES.txt",
            "wasml",
            "wasml-collector",
            "wasml-collector.env.example",
            "wasml-host",
            "wasml-host.env.example",
        ]
    );
    let licences = std::fs::read_to_string(release.join("THIRD-PARTY-LICENSES.txt")).unwrap();
    for compiled_in in ["wasmtime ", "tract-core ", "axum ", "rustls "] {
        assert!(
            licences.contains(&format!("\n{compiled_in}")),
            "{compiled_in}is not in THIRD-PARTY-LICENSES.txt"
        );
    }
    assert!(
        licences.contains("Permission is hereby granted"),
        "MIT texts are included"
    );

    // Every variable the examples name is one the binaries know.
    let help = |binary: &str, args: &[&str]| run(Command::new(release.join(binary)).args(args));
    for (example, help) in [
        ("wasml-host.env.example", help("wasml-host", &["--help"])),
        (
            "wasml-collector.env.example",
            help("wasml-collector", &["serve", "--help"]),
        ),
    ] {
        let text = std::fs::read_to_string(release.join(example)).unwrap();
        let names: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .filter(|word| word.starts_with("WASML_"))
            .collect();
        assert!(names.len() > 5, "{example}: {names:?}");
        for variable in names {
            assert!(
                help.contains(&format!("env: {variable}=")),
                "{example}: {variable} is not a flag's"
            );
        }
    }
    assert!(help("wasml", &["--version"]).starts_with("wasml "));

    // The host alone, started elsewhere, serves the bundled model.
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut command = host_command(release.join("wasml-host"));
    command
        .arg("--events")
        .arg(elsewhere.join("events"))
        .arg("--cache-dir")
        .arg(elsewhere.join("cache"))
        .current_dir(&elsewhere);
    let host = Process::start(command, std::time::Duration::from_secs(120));
    let (status, body) = http::json(host.address, "POST", "/predict", ROW).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"]["name"], "bank-marketing", "{body}");
}
