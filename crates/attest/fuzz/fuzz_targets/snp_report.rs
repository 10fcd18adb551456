//! SEV-SNP: arbitrary bytes as the report (with the real VCEK) or as the key certificate (with
//! the real report), chosen by the first byte. Any input must give a result or an error, never
//! a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealroom_vectors::evidence::{SNP_DIR, raw};

static REPORT: LazyLock<Vec<u8>> = LazyLock::new(|| raw(&format!("{SNP_DIR}/test-report.bin")));
static VCEK: LazyLock<Vec<u8>> = LazyLock::new(|| raw(&format!("{SNP_DIR}/test-vcek.der")));
/// 2025-06-01, inside the VCEK's validity.
const AT: u64 = 1_748_736_000;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let _ = if choice % 2 == 0 {
        sealroom_attest::snp::verify_signed(rest, &VCEK, AT)
    } else {
        sealroom_attest::snp::verify_signed(&REPORT, rest, AT)
    };
});
