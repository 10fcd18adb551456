//! What the isolate reads on its own platform: its evidence's registers and report data (SEV-SNP
//! report, TDX quote, Nitro document), the host's SEV-SNP certificate table, and the NSM's
//! response, chosen by the first byte. The host controls the certificate table and, on a
//! compromised platform, could feed anything: none of it may panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealroom_attest::registers::{own_registers, own_report_data};
use sealroom_attest::{nsm, tsm};
use sealroom_core::attestation::Platform;
use sealroom_vectors::evidence::{SNP_DIR, raw};

static REPORT: LazyLock<Vec<u8>> = LazyLock::new(|| raw(&format!("{SNP_DIR}/test-report.bin")));

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    match choice % 4 {
        0 => {
            for platform in [Platform::SevSnp, Platform::Tdx, Platform::Nitro] {
                let _ = own_registers(platform, rest);
                let _ = own_report_data(platform, rest);
            }
        }
        1 => {
            let _ = tsm::snp_key_certificate(rest, &REPORT);
        }
        2 => {
            let _ = nsm::attestation_document(rest);
        }
        _ => {
            let _ = tsm::snp_key_certificate(&REPORT, rest);
        }
    }
});
