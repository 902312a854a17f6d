//! Builds the test components with a nested cargo build (`guest/artifacts/nested.rs`):
//! the hostile model in four builds and the hostile `wasi:http` component. Only tests and
//! benches depend on this crate, so the README's first command never waits for them.

#[path = "../artifacts/nested.rs"]
mod nested;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let (root, target_dir) = nested::prepare(&["guest/hostile", "guest/hostile-http"]);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut listing = String::new();
    // (constant, package, feature, doc).
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
    ] {
        let built = nested::build_guest(&root, &target_dir, package, feature);
        let dest = out_dir.join(format!("{}.wasm", constant.to_lowercase()));
        std::fs::copy(built, &dest).unwrap();
        writeln!(
            listing,
            "/// {doc}\npub const {constant}: &str = {:?};",
            dest.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(out_dir.join("components.rs"), listing).unwrap();
}
