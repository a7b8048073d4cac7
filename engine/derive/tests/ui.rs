//! Compile errors of the derives and of the typed handles, by trybuild
//! against the committed `.stderr` files (`TRYBUILD=overwrite` rewrites
//! them). rockhold is a dev-dependency without RocksDB, so these builds need
//! no C++. Checked to fail: with the unique-key check removed,
//! `key_not_unique.rs` compiled and the test failed.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
