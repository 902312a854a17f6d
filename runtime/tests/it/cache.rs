//! Compiled components are cached on disk: the second load is a cache hit that serves the
//! same model, a damaged entry is recompiled instead of failing, and concurrent writers of
//! one entry do not trip over each other.

use wasml_runtime::engine::new_engine;
use wasml_runtime::{CacheOutcome, ComponentCache, ModelComponent};

use crate::common::scratch_dir;

#[test]
fn a_second_load_hits_the_cache_and_a_damaged_entry_is_recompiled() {
    let dir = scratch_dir("cache");
    let cache = ComponentCache::new(dir.path());
    let engine = new_engine().unwrap();
    let wasm = std::fs::read(wasml_test_support::bundled_component(
        "bank-marketing",
        "v1",
    ))
    .unwrap();

    let (first, outcome) = ModelComponent::load(&engine, &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    let entry = cache.entry_path(&engine, &wasm);
    assert!(entry.exists());
    let permissions = std::fs::metadata(&entry).unwrap().permissions();
    assert!(permissions.readonly(), "entries are mapped: never edited");
    let expected = first.instantiate().unwrap().info().unwrap().card_json;

    let (second, outcome) = ModelComponent::load(&engine, &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
    assert_eq!(
        second.instantiate().unwrap().info().unwrap().card_json,
        expected
    );

    // A new engine with the same configuration can use the entry too (a restart).
    let (_, outcome) = ModelComponent::load(&new_engine().unwrap(), &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);

    // Damaged as a new file in its place: entries are mapped while in use (by `first`
    // and `second` here), so nothing may change one in place.
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, b"not a compiled component").unwrap();
    let (third, outcome) = ModelComponent::load(&engine, &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    assert_eq!(
        third.instantiate().unwrap().info().unwrap().card_json,
        expected
    );
}

#[test]
fn different_components_get_different_entries() {
    let cache = ComponentCache::new(std::env::temp_dir());
    let engine = new_engine().unwrap();
    let v1 = std::fs::read(wasml_test_support::bundled_component(
        "bank-marketing",
        "v1",
    ))
    .unwrap();
    let v2 = std::fs::read(wasml_test_support::bundled_component(
        "bank-marketing",
        "v2",
    ))
    .unwrap();
    assert_ne!(
        cache.entry_path(&engine, &v1),
        cache.entry_path(&engine, &v2)
    );
}

#[test]
fn threads_compiling_the_same_component_at_once_all_succeed() {
    let dir = scratch_dir("cache-race");
    let cache = ComponentCache::new(dir.path());
    let engine = new_engine().unwrap();
    let wasm = std::fs::read(wasml_test_artifacts::HOSTILE).unwrap();
    std::thread::scope(|scope| {
        let loads: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| ModelComponent::load(&engine, &wasm, &cache).map(|_| ())))
            .collect();
        for load in loads {
            load.join().unwrap().unwrap();
        }
    });
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "one entry, no partial files left behind");
}
