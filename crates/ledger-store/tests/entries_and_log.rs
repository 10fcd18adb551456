//! Log entries are canonical and signed; the group-committing log answers only
//! with durable entries inside a signed checkpoint.

use std::sync::Arc;

use sealroom_core::attestation::Platform;
use sealroom_core::ids::Measurement;
use sealroom_ledger::entry::EntryError;
use sealroom_ledger::{
    CheckedEntry, LogEntry, LogSigningKey, Statement, leaf_hash, verify_inclusion,
};
use sealroom_ledger_store::Log;

fn runtime(n: u8) -> Statement {
    Statement::RuntimePublished {
        platform: Platform::Sim,
        measurement: Measurement([n; 32]),
        programs: vec!["overlap@1".into()],
    }
}

fn signed(key: &LogSigningKey, n: u8) -> Vec<u8> {
    LogEntry::sign(runtime(n), key.public(), |label, bytes| {
        key.sign(label, bytes)
    })
    .unwrap()
    .to_bytes()
}

#[test]
fn entries_round_trip_and_reject_tampering() {
    let key = LogSigningKey::generate("test/log").unwrap();
    let bytes = signed(&key, 1);
    let entry = LogEntry::from_bytes(&bytes).unwrap();
    assert_eq!(entry.statement, runtime(1));
    assert_eq!(entry.statement.kind(), "runtime-published");

    let mut spaced = bytes.clone();
    spaced.insert(1, b' ');
    assert_eq!(
        LogEntry::from_bytes(&spaced).unwrap_err(),
        EntryError::NotCanonical
    );

    let mut forged = entry.clone();
    forged.statement = runtime(2);
    assert_eq!(
        LogEntry::from_bytes(&forged.to_bytes()).unwrap_err(),
        EntryError::BadSignature
    );
    assert!(matches!(
        LogEntry::from_bytes(b"{}"),
        Err(EntryError::Malformed(_))
    ));
}

#[test]
fn concurrent_appends_are_durable_and_proven() {
    let dir = tempfile::tempdir().unwrap();
    let key = LogSigningKey::generate("test/log").unwrap();
    let entries: Vec<Vec<u8>> = (0..=255).map(|n| signed(&key, n)).collect();
    let log = Arc::new(Log::open(&dir.path().join("log.sqlite"), key).unwrap());
    let verifier = log.verifier_key();
    let threads: Vec<_> = entries
        .chunks(32)
        .map(|chunk| {
            let (log, chunk) = (log.clone(), chunk.to_vec());
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .map(|e| {
                        (
                            log.append(CheckedEntry::parse(e.clone()).unwrap()).unwrap(),
                            e,
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut indices = Vec::new();
    for t in threads {
        for (appended, entry) in t.join().unwrap() {
            let checkpoint = verifier.verify_checkpoint(&appended.checkpoint).unwrap();
            assert!(appended.index < checkpoint.size);
            let proof = log
                .inclusion_proof(appended.index, checkpoint.size)
                .unwrap();
            verify_inclusion(
                &leaf_hash(&entry).0,
                appended.index,
                checkpoint.size,
                &checkpoint.root,
                &proof,
            )
            .unwrap();
            assert_eq!(log.entry(appended.index).unwrap().unwrap(), entry);
            indices.push(appended.index);
        }
    }
    indices.sort();
    assert_eq!(indices, (0..256).collect::<Vec<u64>>());
    assert_eq!(log.checkpoint().0, 256);
    // Unsigned or malformed entries never reach the store: only checked entries can be appended.
    assert!(CheckedEntry::parse(b"not an entry".to_vec()).is_err());
    assert_eq!(log.checkpoint().0, 256);
    // Consistency from size 0, or between reversed sizes, has no proof, and says so.
    for (from, to) in [(0, 10), (20, 10)] {
        let refused = log.consistency_proof(from, to).unwrap_err().to_string();
        assert!(
            refused.contains(&format!(
                "no consistency proof from size {from} to size {to}"
            )),
            "{refused}"
        );
    }
    assert!(
        log.consistency_proof(10, 300)
            .unwrap_err()
            .to_string()
            .contains("beyond the log's 256 entries")
    );
}
