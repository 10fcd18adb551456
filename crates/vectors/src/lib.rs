//! Finds the shared test vectors and evidence samples (`shared/vectors/`, beside the repository;
//! see its README) for tests: `$SEALROOM_SHARED_DIR`, else a `shared/` folder beside an ancestor
//! of the calling crate, else `/work/shared`.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The path of `relative` under the shared folder (e.g. `vectors/merkle/testdata`) for a test
/// of the crate at `manifest_dir` (its `CARGO_MANIFEST_DIR`).
///
/// # Panics
/// If no shared folder holds it: the test cannot run without its vectors.
pub fn shared(manifest_dir: &str, relative: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("SEALROOM_SHARED_DIR") {
        return PathBuf::from(dir).join(relative);
    }
    let found = Path::new(manifest_dir)
        .ancestors()
        .map(|a| a.join("shared").join(relative))
        .chain([Path::new("/work/shared").join(relative)])
        .find(|candidate| candidate.exists());
    found.unwrap_or_else(|| {
        panic!("{relative} was not found in a shared folder; set SEALROOM_SHARED_DIR to it")
    })
}

/// The real TEE evidence samples, as sealroom evidence with what each needs attached.
pub mod evidence {
    use base64::Engine as _;
    use sealroom_core::attestation::{Evidence, Platform};

    fn read(relative: &str) -> Vec<u8> {
        let path = super::shared(env!("CARGO_MANIFEST_DIR"), &format!("vectors/{relative}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Where the SEV-SNP samples are.
    pub const SNP_DIR: &str = "snp/deps/verifier/test_data/snp";

    /// An SEV-SNP report (`test-report.bin`, …) with its key certificate (`test-vcek.der`, …).
    pub fn snp(report: &str, certificate: &str) -> Evidence {
        Evidence {
            platform: Platform::SevSnp,
            bytes: read(&format!("{SNP_DIR}/{report}")),
            endorsements: Some(read(&format!("{SNP_DIR}/{certificate}"))),
        }
    }

    /// A DCAP quote (`tdx_quote`, `sgx_quote`, …) with its collateral (`<quote>_collateral.json`).
    pub fn dcap(platform: Platform, quote: &str) -> Evidence {
        Evidence {
            platform,
            bytes: read(&format!("tdx-sgx/sample/{quote}")),
            endorsements: Some(read(&format!("tdx-sgx/sample/{quote}_collateral.json"))),
        }
    }

    /// A Nitro attestation document under `nitro/test-data/` (decoded when stored as base64).
    pub fn nitro(relative: &str) -> Evidence {
        let bytes = read(&format!("nitro/test-data/{relative}"));
        let bytes = if relative.ends_with("base64") {
            let text = String::from_utf8(bytes).expect("base64 text");
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .expect("base64")
        } else {
            bytes
        };
        Evidence::new(Platform::Nitro, bytes)
    }

    /// The bytes of any sample under `vectors/`.
    pub fn raw(relative: &str) -> Vec<u8> {
        read(relative)
    }
}
