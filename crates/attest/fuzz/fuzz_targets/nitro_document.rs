//! AWS Nitro: arbitrary bytes as a COSE_Sign1 attestation document, against the pinned root.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealroom_attest::nitro::{AWS_NITRO_ROOT_G1_PEM, pem_to_der, verify_signed};

static ROOT: LazyLock<Vec<u8>> =
    LazyLock::new(|| pem_to_der(AWS_NITRO_ROOT_G1_PEM).expect("the pinned root"));
/// Inside the beta sample's chain.
const AT: u64 = 1_665_660_000;

fuzz_target!(|data: &[u8]| {
    let _ = verify_signed(data, &ROOT, AT);
});
