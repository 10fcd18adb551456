//! The right edge of a Merkle tree: enough to extend it leaf by leaf and compute its root.
//!
//! An auditor that reads every entry folds them into a frontier and compares the
//! root with a signed checkpoint: that proves the entries it read are exactly the
//! log's, with none hidden. Only `O(log n)` hashes are kept, so the auditor can
//! save the frontier and resume from it next time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tlog_tiles::{Hash, HashReader};

/// The perfect subtrees covering the first `size` leaves, keyed by stored-hash index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    size: u64,
    #[serde(with = "hashes_b64")]
    hashes: BTreeMap<u64, [u8; 32]>,
}

struct Reader<'a>(&'a BTreeMap<u64, [u8; 32]>);

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .map(|h| Hash(*h))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Frontier {
    /// Leaves folded in so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Folds in the next leaf hash.
    pub fn push(&mut self, leaf_hash: [u8; 32]) {
        let new = tlog_tiles::stored_hashes_for_record_hash(
            self.size,
            Hash(leaf_hash),
            &Reader(&self.hashes),
        )
        .expect("a frontier holds every hash the next leaf needs");
        let first = tlog_tiles::stored_hash_index(0, self.size);
        for (i, h) in new.into_iter().enumerate() {
            self.hashes.insert(first + i as u64, h.0);
        }
        self.size += 1;
        let keep: std::collections::BTreeSet<u64> =
            tlog_tiles::sub_tree_index(0, self.size, vec![])
                .into_iter()
                .collect();
        self.hashes.retain(|k, _| keep.contains(k));
    }

    /// True when the frontier holds exactly the hashes its size needs (a saved one may be damaged).
    pub fn is_well_formed(&self) -> bool {
        let want = tlog_tiles::sub_tree_index(0, self.size, vec![]);
        want.len() == self.hashes.len() && want.iter().all(|k| self.hashes.contains_key(k))
    }

    /// The root of the tree of `size` leaves.
    pub fn root(&self) -> [u8; 32] {
        tlog_tiles::tree_hash(self.size, &Reader(&self.hashes))
            .expect("a frontier holds every hash of its root")
            .0
    }
}

mod hashes_b64 {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<u64, [u8; 32]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(
            map.iter()
                .map(|(k, v)| (k.to_string(), sealroom_core::bytes::encode(v))),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<u64, [u8; 32]>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                let index = k.parse().map_err(serde::de::Error::custom)?;
                let hash = sealroom_core::bytes::decode(&v)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        serde::de::Error::custom("a frontier hash is not 32 bytes of base64")
                    })?;
                Ok((index, hash))
            })
            .collect()
    }
}
