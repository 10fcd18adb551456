//! What a program provider does: publish a Wasm module with its documentation and the digest
//! of its source tree, signed with its key, for agreements to name by digest.

use std::path::{Path, PathBuf};

use sealroom_core::clock::Clock;
use sealroom_core::labels;
use sealroom_core::program::{ProgramPublication, SignedPublication, sha256_hex};
use sealroom_crypto::Identity;
use sealroom_host::client::HostClient;
use sealroom_host::programs::PublishProgram;
use sha2::{Digest as _, Sha256};

use crate::error::PartyError;

/// Folders a source tree digest skips: build output and version control.
const SKIPPED: &[&str] = &["target", ".git"];

/// The digest of a source tree (lowercase hex): SHA-256 over every regular file under `dir`
/// except in `target` and `.git` folders, in byte order of their `/`-separated relative paths,
/// each as its path, a 0 byte, its length as 8 bytes little-endian, and its contents. Symbolic
/// links are not followed. Anyone can recompute it from a checkout (`docs/formats.md`).
pub fn source_tree_digest(dir: &Path) -> Result<String, PartyError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for (relative, path) in files {
        let bytes = std::fs::read(&path).map_err(PartyError::io(&path))?;
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), PartyError> {
    for entry in std::fs::read_dir(dir).map_err(PartyError::io(dir))? {
        let entry = entry.map_err(PartyError::io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(PartyError::io(&path))?;
        if kind.is_dir() {
            if !SKIPPED.iter().any(|s| entry.file_name() == *s) {
                collect(root, &path, out)?;
            }
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((relative, path));
        }
    }
    Ok(())
}

/// As `identity`, signs the publication of `module` named `name` with its `documentation` and
/// the digest of its source tree (`source`, if any), dated now.
pub fn sign_publication(
    identity: &Identity,
    name: &str,
    module: &[u8],
    documentation: &str,
    source: Option<String>,
    clock: &dyn Clock,
) -> Result<SignedPublication, PartyError> {
    let publication = ProgramPublication {
        name: name.into(),
        module: sha256_hex(module),
        size: module.len() as u64,
        documentation: sha256_hex(documentation.as_bytes()),
        source,
        provider: identity.card().fingerprint()?,
        published_at: clock.now(),
    };
    let signature = identity.sign(
        labels::PROGRAM_PUBLICATION,
        &SignedPublication::signed_bytes(&publication)?,
    );
    Ok(SignedPublication {
        publication,
        signature,
    })
}

/// As `identity`, publishes `module` named `name` with its `documentation` (and the digest of
/// the source tree at `source`, if given) on `host`. Returns the signed publication and the
/// index of its *program published* log entry.
pub fn publish_program(
    host: &HostClient,
    identity: &Identity,
    name: &str,
    module: Vec<u8>,
    documentation: String,
    source: Option<&Path>,
    clock: &dyn Clock,
) -> Result<(SignedPublication, u64), PartyError> {
    let source = source.map(source_tree_digest).transpose()?;
    let signed = sign_publication(identity, name, &module, &documentation, source, clock)?;
    let answer = host.publish_program(
        identity,
        &PublishProgram {
            publication: signed.clone(),
            module,
            documentation,
        },
    )?;
    Ok((signed, answer.log_index))
}
