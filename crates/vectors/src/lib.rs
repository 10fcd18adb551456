//! Finds the shared test vectors and evidence samples (`shared/vectors/`, beside the repository;
//! see its README) for tests: `$SEALROOM_SHARED_DIR`, else a `shared/` folder beside an ancestor
//! of the calling crate, else `/work/shared`.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The path of `relative` under the shared folder (e.g. `vectors/merkle/testdata`) for a test
/// of the crate at `manifest_dir` (its `CARGO_MANIFEST_DIR`).
///
/// # Panics
/// If no shared folder holds it: the test cannot run without its vectors.
pub fn shared(manifest_dir: &str, relative: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("SEALROOM_SHARED_DIR") {
        return PathBuf::from(dir).join(relative);
    }
    let found = Path::new(manifest_dir)
        .ancestors()
        .map(|a| a.join("shared").join(relative))
        .chain([Path::new("/work/shared").join(relative)])
        .find(|candidate| candidate.exists());
    found.unwrap_or_else(|| {
        panic!("{relative} was not found in a shared folder; set SEALROOM_SHARED_DIR to it")
    })
}
