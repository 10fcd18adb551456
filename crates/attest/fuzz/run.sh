#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), seeded with the real evidence samples
# (shared/vectors), and fails on the first crash. Needs nightly and cargo-fuzz.
# Usage: crates/attest/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shared="${SEALROOM_SHARED_DIR:-}"
if [ -z "$shared" ]; then
    for candidate in ../../../../shared ../../../shared /work/shared; do
        if [ -d "$candidate/vectors" ]; then shared="$candidate"; break; fi
    done
fi
v="$shared/vectors"
mkdir -p corpus/snp_report corpus/dcap_quote corpus/nitro_document corpus/evidence corpus/isolate_parsers
# Each seed is the target's own input shape: the choice byte, then the sample.
{ printf '\x00'; cat "$v/snp/deps/verifier/test_data/snp/test-report.bin"; } > corpus/snp_report/report
{ printf '\x01'; cat "$v/snp/deps/verifier/test_data/snp/test-vcek.der"; } > corpus/snp_report/vcek
{ printf '\x00'; cat "$v/tdx-sgx/sample/tdx_quote"; } > corpus/dcap_quote/tdx
{ printf '\x00'; cat "$v/tdx-sgx/sample/sgx_quote"; } > corpus/dcap_quote/sgx
{ printf '\x01'; cat "$v/tdx-sgx/sample/tdx_quote_collateral.json"; } > corpus/dcap_quote/collateral
cp "$v/nitro/test-data/beta/valid-attestation-doc-bytes" corpus/nitro_document/beta
cp "$v/nitro/test-data/beta/debug-mode-attestation-doc-bytes" corpus/nitro_document/debug
printf '{"platform":"sev-snp","bytes":"AAAA","endorsements":"AAAA"}' > corpus/evidence/snp
printf '{"platform":"nitro","bytes":"hEShATgioFkQ"}' > corpus/evidence/nitro
{ printf '\x00'; cat "$v/tdx-sgx/sample/tdx_quote"; } > corpus/isolate_parsers/tdx
{ printf '\x00'; cat "$v/snp/deps/verifier/test_data/snp/test-report.bin"; } > corpus/isolate_parsers/snp
{ printf '\x00'; cat "$v/nitro/test-data/beta/valid-attestation-doc-bytes"; } > corpus/isolate_parsers/nitro
export SEALROOM_SHARED_DIR="$shared"
for target in snp_report dcap_quote nitro_document evidence isolate_parsers; do
    echo "== fuzz $target for ${seconds}s"
    status=0
    cargo +nightly fuzz run --release "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 > "fuzz-$target.log" 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "fuzz-$target.log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "fuzz-$target.log" >&2
        echo "fuzz target $target failed (exit $status): see crates/attest/fuzz/artifacts/$target" >&2
        exit 1
    fi
done
