//! Measurements of runtime executables.

use std::io::Read;
use std::path::Path;

use sealroom_core::ids::Measurement;
use sha2::{Digest, Sha256};

/// The plain SHA-256 of a file (the same value `sha256sum` prints), read in a stream.
pub fn measure_file(path: &Path) -> std::io::Result<Measurement> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Measurement(hasher.finalize().into()))
}

/// The measurement of the executable this process is running.
pub fn current_measurement() -> std::io::Result<Measurement> {
    measure_file(&std::env::current_exe()?)
}
