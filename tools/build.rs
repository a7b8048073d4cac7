//! Records the cargo profile this binary is built under, so `rockhold bench`
//! can print what it measured: a benchmark run under the test profile (debug
//! assertions and overflow checks on) does not measure what users run.

use std::path::Path;

fn main() {
    // OUT_DIR is <target-dir>/[<triple>/]<profile-dir>/build/<package>-<hash>/out;
    // the profile's directory is the one above `build` ("debug" for dev).
    let out_dir = std::env::var_os("OUT_DIR").unwrap_or_default();
    let profile = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .unwrap_or("unknown");
    println!("cargo:rustc-env=ROCKHOLD_BUILD_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
}
