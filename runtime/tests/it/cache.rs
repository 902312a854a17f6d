//! Compiled components are cached on disk: the second load is a cache hit that serves the
//! same model, a damaged entry is recompiled instead of failing, concurrent writers of
//! one entry do not trip over each other, and models packaged on one runner share its
//! one compiled runner.

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
    // A package's entry is its runner's: compiled once for every model on it.
    let runner = wasml_package::unpack(&wasm).expect("a package").runner;
    let entry = cache.entry_path(&engine, runner);
    assert!(entry.exists());
    let permissions = std::fs::metadata(&entry).unwrap().permissions();
    assert!(permissions.readonly(), "entries are mapped: never edited");
    let expected = first
        .instantiate_blocking()
        .unwrap()
        .info_blocking()
        .unwrap()
        .card_json;

    let (second, outcome) = ModelComponent::load(&engine, &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
    assert_eq!(
        second
            .instantiate_blocking()
            .unwrap()
            .info_blocking()
            .unwrap()
            .card_json,
        expected
    );

    // A new engine with the same configuration can use the entry too (a restart).
    let (_, outcome) = ModelComponent::load(&new_engine().unwrap(), &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);

    // Damaged as a new file in its place: entries are mapped while in use (by `first`
    // and `second` here), so nothing may change one in place. A new process (a new cache
    // over the same directory) finds it damaged and compiles again.
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, b"not a compiled component").unwrap();
    let cache = ComponentCache::new(dir.path());
    let (third, outcome) = ModelComponent::load(&engine, &wasm, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    assert_eq!(
        third
            .instantiate_blocking()
            .unwrap()
            .info_blocking()
            .unwrap()
            .card_json,
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

#[test]
fn models_packaged_on_one_runner_share_one_compiled_runner() {
    let dir = scratch_dir("cache-shared-runner");
    let cache = ComponentCache::new(dir.path());
    let engine = new_engine().unwrap();
    let read = |version| {
        std::fs::read(wasml_test_support::bundled_component(
            "bank-marketing",
            version,
        ))
        .unwrap()
    };
    let (v1, outcome) = ModelComponent::load(&engine, &read("v1"), &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    let (v2, outcome) = ModelComponent::load(&engine, &read("v2"), &cache).unwrap();
    assert_eq!(
        outcome,
        CacheOutcome::Hit,
        "the second model reuses the runner"
    );
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "one compiled runner on disk");
    // Each serves its own model, data and all.
    let v1_info = v1.instantiate_blocking().unwrap().info_blocking().unwrap();
    let v2_info = v2.instantiate_blocking().unwrap().info_blocking().unwrap();
    assert_eq!(
        (v1_info.version.as_str(), v2_info.version.as_str()),
        ("1.0.0", "2.0.0")
    );
    assert_eq!(v1_info.model_type, "logistic-regression");
    assert_eq!(v2_info.model_type, "gradient-boosted-trees");
}
