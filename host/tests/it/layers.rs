//! The server's and the runtime's modules depend on each other without cycles: a layer may
//! use the layers below it, never the other way round (`wasml_test_support::modules`
//! says how dependencies are read from the source).

use std::path::Path;

use wasml_test_support::ScratchDir;
use wasml_test_support::modules::{module_graph, sibling_cycles};

fn src(crate_dir: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src")
}

#[test]
fn the_server_has_no_import_cycle() {
    assert_eq!(sibling_cycles(&src("server")), Vec::<String>::new());
}

#[test]
fn the_runtime_has_no_import_cycle() {
    assert_eq!(sibling_cycles(&src("runtime")), Vec::<String>::new());
}

#[test]
fn the_layers_point_the_way_the_architecture_says() {
    let graph = module_graph(&src("server"));
    let uses = |from: &[&str], to: &[&str]| {
        graph
            .iter()
            .filter(|(module, _)| {
                module.starts_with(&from.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            })
            .flat_map(|(_, targets)| targets)
            .any(|target| target.starts_with(&to.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
    };
    // The API uses the swap pipeline; the swap pipeline sees only `Serving`.
    assert!(uses(&["api", "admin"], &["swap"]));
    assert!(uses(&["swap"], &["serving"]));
    assert!(!uses(&["swap"], &["api"]));
    // The OpenAPI document collects the handlers' types; no handler imports it.
    assert!(uses(&["api", "openapi"], &["api", "predict"]));
    for handler in ["predict", "feedback", "status", "health", "v2"] {
        assert!(!uses(&["api", handler], &["api", "openapi"]), "{handler}");
    }
}

/// The checker finds a cycle where there is one, through a `use` tree and an inline path.
#[test]
fn the_checker_sees_a_cycle() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "module-cycle");
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod api;\npub mod swap;\n");
    write("api/mod.rs", "pub mod admin;\npub struct AppState;\n");
    write("api/admin.rs", "use crate::swap::{self, start};\n");
    // Quotes as character literals must not hide the path after them.
    write(
        "swap/mod.rs",
        r#"// crate::api in a comment is no dependency
const QUOTE: char = '"';
const ESCAPED: char = '\'';
pub fn start<'a>(_: &'a crate::api::AppState) {}
"#,
    );
    assert_eq!(sibling_cycles(&dir), vec!["api -> swap -> api".to_owned()]);
    write(
        "swap/mod.rs",
        "// crate::api in a comment is no dependency\npub fn start() {}\n",
    );
    assert_eq!(sibling_cycles(&dir), Vec::<String>::new());
}
