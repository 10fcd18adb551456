//! Envelope files on disk: uploads land in a temporary file and are renamed into place only when complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use sealroom_core::canonical::{Sha256, labeled_hasher};
use sealroom_core::ids::Digest;
use sealroom_core::labels;
use sealroom_crypto::EnvelopeHeader;
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
    /// Not an envelope, or one for another dataset.
    #[error("{0}")]
    NotTheDataset(String),
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
    /// Owner's name.
    pub owner: String,
    /// Dataset name.
    pub dataset: String,
    /// Size in bytes.
    pub size: u64,
    /// Labeled digest (`sealroom/v1/envelope`) of the file, as receipts record it.
    pub digest: Digest,
    /// Where it is.
    #[serde(skip)]
    pub path: PathBuf,
}

/// An upload in progress: bytes go to a temporary file and are hashed on the way.
pub struct Upload {
    owner: String,
    dataset: String,
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
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Where an owner's dataset lives.
    pub fn dataset_path(&self, owner: &str, dataset: &str) -> PathBuf {
        self.root
            .join("datasets")
            .join(owner)
            .join(format!("{dataset}.envelope"))
    }

    /// Starts an upload of at most `limit` bytes.
    pub fn begin(&self, owner: &str, dataset: &str, limit: u64) -> std::io::Result<Upload> {
        Ok(Upload {
            owner: owner.into(),
            dataset: dataset.into(),
            temp: tempfile::NamedTempFile::new_in(self.root.join("incoming"))?,
            hasher: labeled_hasher(labels::ENVELOPE),
            size: 0,
            limit,
        })
    }

    /// Checks a finished upload's header and moves it into place, replacing any earlier version atomically.
    pub fn commit(&self, mut upload: Upload) -> Result<StoredBlob, UploadError> {
        upload.temp.as_file_mut().sync_all()?;
        let mut file = std::fs::File::open(upload.temp.path())?;
        let (header, _) = EnvelopeHeader::read_from(&mut file)
            .map_err(|e| UploadError::NotTheDataset(e.to_string()))?;
        if header.owner != upload.owner || header.dataset != upload.dataset {
            return Err(UploadError::NotTheDataset(format!(
                "the envelope is {}, not {}/{}",
                header.qualified_name(),
                upload.owner,
                upload.dataset
            )));
        }
        let path = self.dataset_path(&upload.owner, &upload.dataset);
        std::fs::create_dir_all(path.parent().expect("dataset path has a parent"))?;
        upload
            .temp
            .persist(&path)
            .map_err(|e| UploadError::Io(e.error))?;
        Ok(StoredBlob {
            owner: upload.owner,
            dataset: upload.dataset,
            size: upload.size,
            digest: Digest(upload.hasher.finalize().into()),
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
