//! RFC 9162 Merkle tree hashing and proof verification.
//!
//! The tree maths comes from `tlog_tiles` (Cloudflare's port of Go's
//! `golang.org/x/mod/sumdb/tlog`, the log behind the Go checksum database, whose
//! proofs are RFC 6962/9162 compatible). This module adds the edge cases a
//! verifier must get right and that the crate leaves to callers: hashes of the
//! wrong length, empty trees, equal sizes, and indices outside the tree.

use tlog_tiles::{Hash, check_record, check_tree};

/// Length of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// A hash was not 32 bytes long.
    #[error("{what} is {len} bytes long, not {HASH_LEN}")]
    MalformedHash {
        /// Which hash.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The leaf index is not inside the tree.
    #[error("leaf {index} is outside a tree of {size} entries")]
    IndexOutsideTree {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("the older tree ({size1} entries) is larger than the newer one ({size2})")]
    SizesReversed {
        /// Size of the older tree.
        size1: u64,
        /// Size of the newer tree.
        size2: u64,
    },
    /// Consistency with an empty tree proves nothing and is not accepted.
    #[error("a consistency proof from an empty tree proves nothing")]
    EmptyTree,
    /// Two trees of the same size have different roots: the log forked.
    #[error("two trees of {size} entries have different roots")]
    RootsDiffer {
        /// The common size.
        size: u64,
    },
    /// The proof has the wrong shape or does not lead to the expected root.
    #[error("the proof does not lead to the checkpoint's root")]
    Mismatch,
}

/// The RFC 9162 leaf hash of an entry: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry)
}

fn hash(what: &'static str, bytes: &[u8]) -> Result<Hash, ProofError> {
    let array: [u8; HASH_LEN] = bytes.try_into().map_err(|_| ProofError::MalformedHash {
        what,
        len: bytes.len(),
    })?;
    Ok(Hash(array))
}

fn proof_hashes(proof: &[impl AsRef<[u8]>]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .map(|h| hash("a proof hash", h.as_ref()))
        .collect()
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` entries whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    root: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<(), ProofError> {
    let leaf = hash("the leaf hash", leaf_hash)?;
    let root = hash("the root", root)?;
    let proof = proof_hashes(proof)?;
    if index >= size {
        return Err(ProofError::IndexOutsideTree { index, size });
    }
    check_record(&proof, size, root, index, leaf).map_err(|_| ProofError::Mismatch)
}

/// Checks that the tree of `size2` entries with root `root2` extends the tree of
/// `size1` entries with root `root1` (RFC 9162 §2.1.4).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::Mismatch);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::RootsDiffer { size: size1 })
        };
    }
    let root1 = hash("the older root", root1)?;
    let root2 = hash("the newer root", root2)?;
    let proof = proof_hashes(proof)?;
    check_tree(&proof, size2, root2, size1, root1).map_err(|_| ProofError::Mismatch)
}
