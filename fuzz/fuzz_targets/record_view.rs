//! Fuzz target `record_view`: runs [`rockhold_fuzz::check_record_view`] on every input.
//!
//! Built by cargo-fuzz (`--cfg fuzzing`) this is a libFuzzer target; built
//! by plain cargo it is a replay tool: `cargo run --bin record_view -- [FILE|DIR]...`
//! (no argument: this target's corpus and regressions).

#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rockhold_fuzz::check_record_view(data));

#[cfg(not(fuzzing))]
fn main() -> std::process::ExitCode {
    rockhold_fuzz::replay_main("record_view", rockhold_fuzz::check_record_view)
}
