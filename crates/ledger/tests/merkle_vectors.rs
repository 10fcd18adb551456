//! Every RFC 6962/9162 vector in `shared/vectors/merkle/testdata/` (from
//! transparency-dev/merkle), read from the shared folder: happy paths must
//! verify and every corrupted case must fail.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealroom_ledger::{ProofError, verify_consistency, verify_inclusion};
use serde::Deserialize;

/// The shared Merkle vectors.
fn vectors_dir() -> PathBuf {
    sealroom_vectors::shared(env!("CARGO_MANIFEST_DIR"), "vectors/merkle/testdata")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn decode(text: &str) -> Vec<u8> {
    STANDARD.decode(text).expect("vector base64")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn proof(p: &Option<Vec<String>>) -> Vec<Vec<u8>> {
    p.iter().flatten().map(|h| decode(h)).collect()
}

/// Runs every vector file under `kind`: each must fail to verify exactly when it says `wantErr`.
fn check_all(kind: &str, verify: impl Fn(&[u8]) -> (Result<(), ProofError>, bool, String)) {
    let files = json_files(&vectors_dir().join(kind));
    assert!(
        files.len() > 50,
        "found only {} {kind} vectors",
        files.len()
    );
    let (mut good, mut bad) = (0, 0);
    for file in &files {
        let (result, want_err, desc) = verify(&std::fs::read(file).unwrap());
        assert_eq!(
            result.is_err(),
            want_err,
            "{} ({desc}): {result:?}",
            file.display()
        );
        if want_err { bad += 1 } else { good += 1 }
    }
    assert!(
        good >= 5 && bad >= 50,
        "{good} happy and {bad} corrupted {kind} vectors"
    );
}

#[test]
fn inclusion_vectors() {
    check_all("inclusion", |bytes| {
        let v: InclusionVector = serde_json::from_slice(bytes).unwrap();
        let result = verify_inclusion(
            &decode(&v.leaf_hash),
            v.leaf_idx,
            v.tree_size,
            &decode(&v.root),
            &proof(&v.proof),
        );
        (result, v.want_err, v.desc)
    });
}

#[test]
fn consistency_vectors() {
    check_all("consistency", |bytes| {
        let v: ConsistencyVector = serde_json::from_slice(bytes).unwrap();
        let result = verify_consistency(
            v.size1,
            v.size2,
            &decode(&v.root1),
            &decode(&v.root2),
            &proof(&v.proof),
        );
        (result, v.want_err, v.desc)
    });
}
