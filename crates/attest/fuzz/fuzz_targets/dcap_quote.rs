//! Intel DCAP: arbitrary bytes as a quote (with the real TDX collateral) or as the collateral
//! JSON (with the real quote), chosen by the first byte.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealroom_vectors::evidence::raw;

static QUOTE: LazyLock<Vec<u8>> = LazyLock::new(|| raw("tdx-sgx/sample/tdx_quote"));
static COLLATERAL: LazyLock<String> = LazyLock::new(|| {
    String::from_utf8(raw("tdx-sgx/sample/tdx_quote_collateral.json")).expect("JSON text")
});
/// 2025-07-01, inside the collateral's validity.
const AT: u64 = 1_751_328_000;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let _ = if choice % 2 == 0 {
        sealroom_attest::dcap::verify_signed(rest, &COLLATERAL, AT)
    } else {
        match std::str::from_utf8(rest) {
            Ok(collateral) => sealroom_attest::dcap::verify_signed(&QUOTE, collateral, AT),
            Err(_) => return,
        }
    };
});
