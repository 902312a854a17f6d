//! Nested `cargo build --target wasm32-wasip2` of a guest crate, shared by the build
//! scripts of `guest/artifacts` (the runner) and `guest/test-artifacts` (the hostile and
//! Spin components), as wasmtime's test-programs do.
//!
//! The nested build gets its own target directory (`<target>/wasm-guests`): the outer build
//! holds the lock on its own.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guests' target.
pub const TARGET: &str = "wasm32-wasip2";

/// The workspace root and the nested target directory, from a build script's environment.
fn dirs() -> (PathBuf, PathBuf) {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).unwrap().join("wasm-guests");
    (root, target_dir)
}

/// What every guest is built from besides its own crate (relative to the root).
const SHARED_SOURCES: &[&str] = &["wit", "guest/predictor/src", "vendor", "Cargo.lock"];

/// Readies a build script to build guests: reruns it when their crates (`crates`,
/// relative to the root) or [`SHARED_SOURCES`] change, makes sure the wasm target is
/// installed, and gives the workspace root and the nested target directory.
pub fn prepare(crates: &[&str]) -> (PathBuf, PathBuf) {
    let (root, target_dir) = dirs();
    for watched in crates.iter().chain(SHARED_SOURCES) {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    ensure_wasm_target(&root);
    (root, target_dir)
}

/// Builds `package` and copies its `.wasm` to `OUT_DIR/file`, for `include_bytes!`.
#[allow(dead_code)] // `guest/test-artifacts` lists paths instead of embedding.
pub fn embed_guest(root: &Path, target_dir: &Path, package: &str, file: &str) {
    let built = build_guest(root, target_dir, package, None);
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    std::fs::copy(built, out_dir.join(file)).unwrap();
}

/// Builds `package` for wasm and returns the path of its `.wasm`; `feature` is a cargo
/// feature to turn on. Each feature set stays cached in the target directory; the `.wasm`
/// is the last build's.
pub fn build_guest(
    root: &Path,
    target_dir: &Path,
    package: &str,
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
    // whole-program optimisation lets tract's kernels inline across crates. One codegen
    // unit for the guest crate only: its dependencies keep 16, so tract-core's bitcode is
    // built on both cores (a cold runner build in 308 s instead of 383, predict speed the
    // same within noise: docs/benchmarks.md, "First build").
    .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
    .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
    .env("CARGO_PROFILE_RELEASE_LTO", "fat")
    .arg("--config")
    .arg(format!("profile.release.package.{package}.codegen-units=1"));
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
