//! The collector's modules depend on each other without cycles (`wasml_test_support::
//! modules` says how dependencies are read from the source).

use std::path::Path;

use wasml_test_support::modules::sibling_cycles;

#[test]
fn the_collector_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert_eq!(sibling_cycles(&src), Vec::<String>::new());
}
