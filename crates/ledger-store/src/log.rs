//! A running log: one writer thread that commits appends in groups, and signed checkpoints.
//!
//! Appends from many callers are queued; the writer takes everything waiting (up
//! to [`MAX_BATCH`]), commits it in one SQLite transaction, signs one checkpoint
//! for the new size, and only then answers each caller. An answer therefore means
//! the entry is durable and inside the checkpoint it comes with.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, RwLock};

use sealroom_ledger::entry::{CheckedEntry, EntryError};
use sealroom_ledger::{LogSigningKey, LogVerifierKey};

use crate::store::{LogStore, StoreError};

/// Most entries committed in one transaction.
pub const MAX_BATCH: usize = 1024;

/// An append failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The entry was refused.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// Storage failed; the entry was not logged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer has stopped.
    #[error("the log writer has stopped")]
    Stopped,
}

/// An appended entry: where it is, and a signed checkpoint that contains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// False when the same entry was already logged.
    pub new: bool,
    /// A signed checkpoint whose tree contains the entry.
    pub checkpoint: String,
}

struct Job {
    entry: Vec<u8>,
    answer: SyncSender<Result<Appended, Arc<StoreError>>>,
}

/// A transparency log over a SQLite file, signing checkpoints with the log key.
pub struct Log {
    queue: SyncSender<Job>,
    reader: Mutex<LogStore>,
    latest: Arc<RwLock<(u64, String)>>,
    key: Arc<LogSigningKey>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Log({})", self.key.verifier_key())
    }
}

impl Log {
    /// Opens the log at `path` and starts its writer thread.
    pub fn open(path: &Path, key: LogSigningKey) -> Result<Self, StoreError> {
        let writer = LogStore::open(path)?;
        let reader = LogStore::open(path)?;
        let key = Arc::new(key);
        let size = writer.size();
        let latest = Arc::new(RwLock::new((
            size,
            key.sign_checkpoint(size, &writer.root(size)?),
        )));
        let (queue, jobs) = sync_channel(4 * MAX_BATCH);
        let (thread_key, thread_latest) = (key.clone(), latest.clone());
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_loop(writer, jobs, &thread_key, &thread_latest))
            .expect("the log writer thread starts");
        Ok(Self {
            queue,
            reader: Mutex::new(reader),
            latest,
            key,
        })
    }

    /// The key parties pin to verify checkpoints.
    pub fn verifier_key(&self) -> LogVerifierKey {
        self.key.verifier_key()
    }

    /// The log's signing key (the host signs its own entries with it).
    pub fn signing_key(&self) -> &LogSigningKey {
        &self.key
    }

    /// Appends a checked entry; blocks until it is durable.
    pub fn append(&self, entry: CheckedEntry) -> Result<Appended, AppendError> {
        let entry = entry.into_bytes();
        let (answer, wait) = sync_channel(1);
        self.queue
            .send(Job { entry, answer })
            .map_err(|_| AppendError::Stopped)?;
        match wait.recv() {
            Ok(Ok(appended)) => Ok(appended),
            Ok(Err(e)) => Err(AppendError::Store(StoreError::Damaged(e.to_string()))),
            Err(_) => Err(AppendError::Stopped),
        }
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> (u64, String) {
        self.latest.read().expect("checkpoint lock").clone()
    }

    fn read<T>(&self, f: impl FnOnce(&LogStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let committed = self.latest.read().expect("checkpoint lock").0;
        let mut store = self.reader.lock().expect("log reader lock");
        // The reader's cached size lags the writer's; refresh it from the committed checkpoint.
        store.observe_size(committed);
        f(&store)
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|s| s.entry(index))
    }

    /// Up to `count` entries from `start`.
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|s| s.entries(start, count))
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(|s| s.inclusion_proof(index, size))
    }

    /// The root hash of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<[u8; 32], StoreError> {
        self.read(|s| s.root(size))
    }

    /// Consistency proof between trees of `from` and `to` entries.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(|s| s.consistency_proof(from, to))
    }
}

fn write_loop(
    mut store: LogStore,
    jobs: Receiver<Job>,
    key: &LogSigningKey,
    latest: &RwLock<(u64, String)>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let entries: Vec<Vec<u8>> = batch
            .iter_mut()
            .map(|j| std::mem::take(&mut j.entry))
            .collect();
        let outcome = store.append(&entries).and_then(|placed| {
            let size = store.size();
            let checkpoint = key.sign_checkpoint(size, &store.root(size)?);
            *latest.write().expect("checkpoint lock") = (size, checkpoint.clone());
            Ok((placed, checkpoint))
        });
        match outcome {
            Ok((placed, checkpoint)) => {
                for (job, p) in batch.into_iter().zip(placed) {
                    let _ = job.answer.send(Ok(Appended {
                        index: p.index,
                        new: p.new,
                        checkpoint: checkpoint.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!("log append failed: {e}");
                let e = Arc::new(e);
                for job in batch {
                    let _ = job.answer.send(Err(e.clone()));
                }
            }
        }
    }
}
