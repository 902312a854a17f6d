//! Builds one model component per bundled model version with a nested
//! `cargo build --target wasm32-wasip2 -p wasml-guest`, as wasmtime's test-programs do, so
//! that `cargo test` and `cargo run` on a fresh clone need no manual step.
//!
//! The nested build gets its own target directory (`<target>/wasm-guests`): the outer build
//! holds the lock on its own. It is built once per version with `WASML_MODEL_DIR` set;
//! switching versions only recompiles the small guest crate, never tract. The hostile test
//! components and the Spin flavour of the bundled model (`guest/spin`) come from the same
//! nested target directory.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).unwrap().join("wasm-guests");

    for watched in [
        "wit",
        "guest/component",
        "guest/hostile",
        "guest/hostile-http",
        "guest/spin",
        "guest/predictor/src",
        "guest/models",
        "vendor",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_wasm_target(&root);
    let models = root.join("guest/models");
    let mut listing = String::from(
        "/// Every bundled model component: (model, version directory, path of the .wasm).\n",
    );
    listing.push_str("pub const COMPONENTS: &[(&str, &str, &str)] = &[\n");
    for (model, version, dir) in model_versions(&models) {
        let wasm = build_guest(&root, &target_dir, "wasml-guest", Some(&dir), None);
        let dest = out_dir.join(format!("{model}-{version}.wasm"));
        fs::copy(&wasm, &dest).unwrap();
        writeln!(
            listing,
            "    ({model:?}, {version:?}, {:?}),",
            dest.display().to_string()
        )
        .unwrap();
    }
    listing.push_str("];\n");
    // (constant, package, feature, doc). wasml-spin embeds the default model directory
    // (`guest/component/build.rs`), as `spin build` builds it.
    for (constant, package, feature, doc) in [
        (
            "HOSTILE",
            "wasml-hostile-guest",
            None,
            "The hostile test component (`guest/hostile`): it loops, hoards memory, recurses or panics on request.",
        ),
        (
            "HOSTILE_INFO_TRAPS",
            "wasml-hostile-guest",
            Some("info-traps"),
            "The hostile component built so that its `info()` always traps.",
        ),
        (
            "HOSTILE_IMPOSTOR",
            "wasml-hostile-guest",
            Some("impostor"),
            "The hostile component built to say it is bank-marketing 9.9.9, with its own one-field schema.",
        ),
        (
            "HOSTILE_ALIEN",
            "wasml-hostile-guest",
            Some("alien-import"),
            "The hostile component built to import `wasml:alien/vault`, an interface no host offers.",
        ),
        (
            "HOSTILE_HTTP",
            "wasml-hostile-http",
            None,
            "The hostile `wasi:http` component (`guest/hostile-http`): loops, hoards, panics, tries files, sockets and HTTP by path.",
        ),
        (
            "SPIN",
            "wasml-spin",
            None,
            "The bundled model's Spin HTTP component (`guest/spin`): a plain `wasi:http` component.",
        ),
    ] {
        let built = build_guest(&root, &target_dir, package, None, feature);
        let dest = out_dir.join(format!("{}.wasm", constant.to_lowercase()));
        fs::copy(built, &dest).unwrap();
        writeln!(
            listing,
            "/// {doc}\npub const {constant}: &str = {:?};",
            dest.display().to_string()
        )
        .unwrap();
    }
    fs::write(out_dir.join("components.rs"), listing).unwrap();
}

/// `(model, version, dir)` for every `guest/models/<model>/<version>/` with a card.
fn model_versions(models: &Path) -> Vec<(String, String, PathBuf)> {
    let mut found = Vec::new();
    for model in sorted_dirs(models) {
        for version in sorted_dirs(&model) {
            if version.join("card.json").exists() {
                found.push((file_name(&model), file_name(&version), version));
            }
        }
    }
    assert!(
        !found.is_empty(),
        "no model versions under {}",
        models.display()
    );
    found
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Builds `package` for wasm and returns the path of its `.wasm`; `model_dir` is the
/// model directory a `wasml-guest` build embeds, `feature` a cargo feature to turn on.
/// Each feature set stays cached in the target directory; the `.wasm` is the last build's.
fn build_guest(
    root: &Path,
    target_dir: &Path,
    package: &str,
    model_dir: Option<&Path>,
    feature: Option<&str>,
) -> PathBuf {
    let mut cmd = pinned_toolchain("cargo", root);
    cmd.args([
        "build",
        "--release",
        "--locked",
        "-p",
        package,
        "--target",
        TARGET,
    ])
    .arg("--target-dir")
    .arg(target_dir)
    // Debug info would make the component 5x larger and slower to compile in the host;
    // whole-program optimisation lets tract's kernels inline across crates.
    .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
    .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
    .env("CARGO_PROFILE_RELEASE_LTO", "fat")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    if let Some(dir) = model_dir {
        cmd.env("WASML_MODEL_DIR", dir);
    }
    if let Some(feature) = feature {
        cmd.args(["--features", feature]);
    }
    // Flags meant for the outer (native) build must not leak into the wasm one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running the nested cargo build");
    assert!(status.success(), "building {package} for {TARGET} failed");
    let file = format!("{}.wasm", package.replace('-', "_"));
    target_dir.join(TARGET).join("release").join(file)
}

/// `program` (cargo, rustc, rustup) of the toolchain `rust-toolchain.toml` pins, whatever
/// the outer build runs on: under `cargo +nightly fuzz` the guests are still built (and
/// cached) by the pinned stable toolchain, which has the wasm target.
fn pinned_toolchain(program: &str, root: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root);
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "CARGO",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `rust-toolchain.toml` lists the target, but rustup installs listed targets only together
/// with a missing toolchain; add it here so a fresh machine needs no manual step.
fn ensure_wasm_target(root: &Path) {
    let sysroot = pinned_toolchain("rustc", root)
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let status = pinned_toolchain("rustup", root)
        .args(["target", "add", TARGET])
        .status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed"
    );
}
