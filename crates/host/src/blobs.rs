//! Envelope files on disk: uploads land in a temporary file and are renamed into place only when complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use sealroom_core::canonical::{Sha256, labeled_hasher};
use sealroom_core::envelope::EnvelopeHeader;
use sealroom_core::ids::{AgreementId, Digest};
use sealroom_core::labels;
use sha2::Digest as _;

/// An upload was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Larger than the host accepts.
    #[error("the upload exceeds the host's limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body could not be read.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// The disk failed.
    #[error("storing the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A stored envelope.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredBlob {
    /// The agreement it was sealed for.
    pub agreement: AgreementId,
    /// Owner's name.
    pub owner: String,
    /// Dataset name.
    pub dataset: String,
    /// Size in bytes.
    pub size: u64,
    /// Labeled digest (`sealroom/v1/envelope`) of the file, as receipts record it.
    pub digest: Digest,
    /// Digest of its owner-signed header.
    pub header_digest: Digest,
    /// When its owner sealed it, in milliseconds since the Unix epoch.
    pub sealed_at_ms: u64,
    /// Where it is.
    #[serde(skip)]
    pub path: PathBuf,
}

/// An upload in progress: bytes go to a temporary file and are hashed on the way. Its header
/// has been checked before the first byte was written.
pub struct Upload {
    agreement: AgreementId,
    owner: String,
    dataset: String,
    header_digest: Digest,
    sealed_at_ms: u64,
    temp: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A blob store under `root`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("datasets"))?;
        std::fs::create_dir_all(root.join("incoming"))?;
        std::fs::create_dir_all(root.join("programs"))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Where an owner's envelope for an agreement lives.
    pub fn dataset_path(&self, agreement: &AgreementId, owner: &str, dataset: &str) -> PathBuf {
        self.root
            .join("datasets")
            .join(agreement.to_string())
            .join(owner)
            .join(format!("{dataset}.envelope"))
    }

    /// Stores a published module under its digest (written whole, then moved into place).
    pub fn put_program(&self, digest: &str, module: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.root.join("programs").join(format!("{digest}.wasm"));
        let mut temp = tempfile::NamedTempFile::new_in(self.root.join("incoming"))?;
        std::io::Write::write_all(&mut temp, module)?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Starts an upload of at most `limit` bytes of the envelope whose header is `header`.
    pub fn begin(
        &self,
        header: &EnvelopeHeader,
        header_digest: Digest,
        limit: u64,
    ) -> std::io::Result<Upload> {
        Ok(Upload {
            agreement: header.agreement,
            owner: header.owner.clone(),
            dataset: header.dataset.clone(),
            header_digest,
            sealed_at_ms: header.sealed_at_ms,
            temp: tempfile::NamedTempFile::new_in(self.root.join("incoming"))?,
            hasher: labeled_hasher(labels::ENVELOPE),
            size: 0,
            limit,
        })
    }

    /// Moves a finished upload into place, replacing any earlier version atomically.
    pub fn commit(&self, upload: Upload) -> Result<StoredBlob, UploadError> {
        upload.temp.as_file().sync_all()?;
        let path = self.dataset_path(&upload.agreement, &upload.owner, &upload.dataset);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        upload
            .temp
            .persist(&path)
            .map_err(|e| UploadError::Io(e.error))?;
        Ok(StoredBlob {
            agreement: upload.agreement,
            owner: upload.owner,
            dataset: upload.dataset,
            size: upload.size,
            digest: Digest(upload.hasher.finalize().into()),
            header_digest: upload.header_digest,
            sealed_at_ms: upload.sealed_at_ms,
            path,
        })
    }
}

impl Upload {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(UploadError::TooLarge { limit: self.limit });
        }
        self.hasher.update(bytes);
        self.temp.write_all(bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::canonical::labeled_digest;
    use sealroom_core::envelope::ENVELOPE_FORMAT;
    use sealroom_core::ids::Fingerprint;
    use sealroom_core::sign::Signature;
    use sealroom_core::wire::Sealed;

    fn header(sealed_at_ms: u64) -> EnvelopeHeader {
        EnvelopeHeader {
            format: ENVELOPE_FORMAT.into(),
            owner: "alice".into(),
            owner_fingerprint: Fingerprint([1; 32]),
            agreement: AgreementId([2; 32]),
            dataset: "visits".into(),
            schema_digest: Digest([3; 32]),
            content_type: sealroom_core::envelope::PAYLOAD_CONTENT_TYPE.into(),
            aead: "AES-256-GCM".into(),
            chunk_size: 1 << 16,
            nonce_prefix: [4; 7],
            sealed_at_ms,
            wrapped_key: Sealed {
                enc: [5; 32],
                ciphertext: vec![6; 48],
            },
            signature: Signature([7; 64]),
        }
    }

    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_committed_upload_replaces_the_earlier_one_whole_with_its_digest() {
        let root = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(root.path()).unwrap();
        for (sealed_at, content) in [(1, b"first version".as_slice()), (2, b"second")] {
            let mut upload = blobs
                .begin(&header(sealed_at), Digest([9; 32]), 1 << 20)
                .unwrap();
            for part in content.chunks(4) {
                upload.write(part).unwrap();
            }
            let stored = blobs.commit(upload).unwrap();
            assert_eq!(stored.size, content.len() as u64);
            assert_eq!(stored.digest, labeled_digest(labels::ENVELOPE, content));
            assert_eq!(stored.sealed_at_ms, sealed_at);
            assert_eq!(std::fs::read(&stored.path).unwrap(), content);
        }
        assert_eq!(files_in(&root.path().join("incoming")), 0);
    }

    #[test]
    fn an_upload_over_the_limit_or_abandoned_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(root.path()).unwrap();
        let path = blobs.dataset_path(&AgreementId([2; 32]), "alice", "visits");

        let mut upload = blobs.begin(&header(1), Digest([9; 32]), 10).unwrap();
        upload.write(&[0; 10]).unwrap();
        assert!(matches!(
            upload.write(&[0; 1]),
            Err(UploadError::TooLarge { limit: 10 })
        ));
        drop(upload);
        assert!(!path.exists());
        assert_eq!(files_in(&root.path().join("incoming")), 0);

        let mut upload = blobs.begin(&header(1), Digest([9; 32]), 10).unwrap();
        upload.write(b"half").unwrap();
        drop(upload);
        assert!(!path.exists(), "an interrupted upload is never visible");
        assert_eq!(files_in(&root.path().join("incoming")), 0);
    }
}
