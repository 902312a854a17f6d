//! The committed code in `src/generated/` is what the vendored `.proto` generates today:
//! regenerates it in a temporary directory and compares. With `WASML_UPDATE_GENERATED=1`
//! it writes the new code instead (after changing the `.proto` or the generator's version).

use std::path::{Path, PathBuf};

use prost::Message as _;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The code and the descriptor set, generated into `out`.
fn generate(out: &Path) {
    let descriptors = protox::Compiler::new([crate_dir().join("proto")])
        .unwrap()
        .include_source_info(true)
        .open_file("grpc_predict_v2.proto")
        .unwrap()
        .file_descriptor_set();
    std::fs::write(out.join("inference.bin"), descriptors.encode_to_vec()).unwrap();
    tonic_prost_build::configure()
        // The host serves with its own accept loop and tests connect with their own
        // channel: no `connect()` that would need tonic's transport feature.
        .build_transport(false)
        .out_dir(out)
        .compile_fds(descriptors)
        .unwrap();
}

#[test]
fn the_committed_code_is_what_the_proto_generates() {
    let fresh = std::env::temp_dir().join(format!("wasml-grpc-gen-{}", std::process::id()));
    std::fs::create_dir_all(&fresh).unwrap();
    generate(&fresh);
    let committed = crate_dir().join("src/generated");
    let update = std::env::var_os("WASML_UPDATE_GENERATED").is_some();
    for file in ["inference.rs", "inference.bin"] {
        let new = std::fs::read(fresh.join(file)).unwrap();
        if update {
            std::fs::create_dir_all(&committed).unwrap();
            std::fs::write(committed.join(file), &new).unwrap();
            continue;
        }
        let old = std::fs::read(committed.join(file)).unwrap_or_default();
        assert!(
            old == new,
            "grpc-proto/src/generated/{file} is stale: run \
             `WASML_UPDATE_GENERATED=1 cargo test --release -p wasml-grpc-proto` and commit it"
        );
    }
    std::fs::remove_dir_all(&fresh).unwrap();
}
