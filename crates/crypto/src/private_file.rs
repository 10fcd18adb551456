//! Files that hold secrets: created with mode 0600, never overwritten, synced to disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// Creates `path` with mode 0600 and writes `contents`; fails with `AlreadyExists` rather than overwrite.
pub fn create_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(path)?;
    out.write_all(contents)?;
    out.sync_all()
}
