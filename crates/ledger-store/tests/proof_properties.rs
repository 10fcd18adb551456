//! Proofs from the store verify for random tree sizes and indices, and any
//! single-bit change to an entry, a proof or a checkpoint makes verification fail.

use std::sync::OnceLock;

use proptest::prelude::*;
use sealroom_ledger::{
    Frontier, LogSigningKey, LogVerifierKey, leaf_hash, verify_consistency, verify_inclusion,
};
use sealroom_ledger_store::LogStore;

const ENTRIES: u64 = 300;

struct Fixture {
    store: LogStore,
    entries: Vec<Vec<u8>>,
    key: LogSigningKey,
}

fn fixture() -> &'static std::sync::Mutex<Fixture> {
    static FIXTURE: OnceLock<std::sync::Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A shared fixture lives as long as the test process; keep it under target/, replaced each run.
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("proof_properties");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = LogStore::open(&dir.join("log.sqlite")).unwrap();
        let entries: Vec<Vec<u8>> = (0..ENTRIES)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        // Appended in uneven batches, as the group-committing writer does.
        for chunk in entries.chunks(7) {
            store.append(chunk).unwrap();
        }
        let key = LogSigningKey::generate("test.sealroom/log").unwrap();
        std::sync::Mutex::new(Fixture {
            store,
            entries,
            key,
        })
    })
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

#[test]
fn roots_match_an_independent_frontier() {
    let f = fixture().lock().unwrap();
    let mut frontier = Frontier::default();
    for (i, e) in f.entries.iter().enumerate() {
        assert_eq!(f.store.root(i as u64).unwrap(), frontier.root(), "size {i}");
        frontier.push(leaf_hash(e).0);
    }
    assert_eq!(f.store.root(ENTRIES).unwrap(), frontier.root());
    f.store.check_integrity().unwrap();
}

#[test]
fn appending_the_same_entry_twice_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = LogStore::open(&dir.path().join("log.sqlite")).unwrap();
    let placed = store
        .append(&[b"a".to_vec(), b"b".to_vec(), b"a".to_vec()])
        .unwrap();
    assert_eq!(
        placed.iter().map(|p| (p.index, p.new)).collect::<Vec<_>>(),
        [(0, true), (1, true), (0, false)]
    );
    assert_eq!(store.size(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn inclusion_proofs_verify_and_bit_flips_fail(size in 1..=ENTRIES, seed in any::<u64>(), bit in any::<usize>()) {
        let f = fixture().lock().unwrap();
        let index = seed % size;
        let root = f.store.root(size).unwrap();
        let proof = f.store.inclusion_proof(index, size).unwrap();
        let entry = &f.entries[index as usize];
        verify_inclusion(&leaf_hash(entry).0, index, size, &root, &proof).unwrap();

        // A changed entry.
        let bad_entry = flip(entry, bit % (entry.len() * 8));
        prop_assert!(verify_inclusion(&leaf_hash(&bad_entry).0, index, size, &root, &proof).is_err());
        // A changed proof hash.
        if !proof.is_empty() {
            let bits = proof.len() * 256;
            let b = bit % bits;
            let mut bad = proof.clone();
            bad[b / 256] = flip(&bad[b / 256], b % 256).try_into().unwrap();
            prop_assert!(verify_inclusion(&leaf_hash(entry).0, index, size, &root, &bad).is_err());
        }
        // A changed root, index or size.
        prop_assert!(verify_inclusion(&leaf_hash(entry).0, index, size, &flip(&root, bit % 256), &proof).is_err());
        prop_assert!(verify_inclusion(&leaf_hash(entry).0, index ^ 1, size, &root, &proof).is_err() || index ^ 1 >= size);
    }

    #[test]
    fn consistency_proofs_verify_and_bit_flips_fail(a in 1..=ENTRIES, b in 1..=ENTRIES, bit in any::<usize>()) {
        let f = fixture().lock().unwrap();
        let (size1, size2) = (a.min(b), a.max(b));
        let root1 = f.store.root(size1).unwrap();
        let root2 = f.store.root(size2).unwrap();
        let proof = f.store.consistency_proof(size1, size2).unwrap();
        verify_consistency(size1, size2, &root1, &root2, &proof).unwrap();
        prop_assert!(verify_consistency(size1, size2, &flip(&root1, bit % 256), &root2, &proof).is_err());
        prop_assert!(verify_consistency(size1, size2, &root1, &flip(&root2, bit % 256), &proof).is_err());
        if !proof.is_empty() {
            let b = bit % (proof.len() * 256);
            let mut bad = proof.clone();
            bad[b / 256] = flip(&bad[b / 256], b % 256).try_into().unwrap();
            prop_assert!(verify_consistency(size1, size2, &root1, &root2, &bad).is_err());
        }
    }

    #[test]
    fn checkpoints_verify_and_bit_flips_fail(size in 0..=ENTRIES, bit in any::<usize>()) {
        let f = fixture().lock().unwrap();
        let root = f.store.root(size).unwrap();
        let note = f.key.sign_checkpoint(size, &root);
        let pinned: LogVerifierKey = f.key.verifier_key().to_string().parse().unwrap();
        let verified = pinned.verify_checkpoint(&note).unwrap();
        prop_assert_eq!((verified.size, verified.root), (size, root));

        let flipped = flip(note.as_bytes(), bit % (note.len() * 8));
        // A flip that leaves no valid UTF-8 is no checkpoint at all; any other must not verify.
        if let Ok(text) = String::from_utf8(flipped) {
            let result = pinned.verify_checkpoint(&text);
            prop_assert!(result.is_err(), "bit {} flipped still verifies: {:?}", bit % (note.len() * 8), result);
        }
    }
}

#[test]
fn a_checkpoint_from_another_key_is_refused() {
    let f = fixture().lock().unwrap();
    let other = LogSigningKey::generate("test.sealroom/log").unwrap();
    let note = other.sign_checkpoint(3, &f.store.root(3).unwrap());
    let err = f.key.verifier_key().verify_checkpoint(&note).unwrap_err();
    assert!(
        err.to_string().contains("not signed by the pinned log key"),
        "{err}"
    );
}
