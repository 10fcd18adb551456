//! Intel TDX and SGX quotes (DCAP quote versions 3 to 5), verified with `dcap-qvl` against
//! Intel's SGX root CA, which that crate pins: the PCK certificate chain and CRLs, the TCB info
//! and QE identity collateral (supplied with the evidence, never fetched), the quote's
//! signatures, at a time the caller gives. This module maps the result to what sealroom's
//! policy reads (measurements, report data, TCB status and advisories) and refuses debug
//! enclaves and TDs and TCB levels the caller does not accept. `dcap-qvl` itself refuses debug,
//! revoked and out-of-range quotes by default; the checks here restate what policy relies on.

use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::quote::Report;

/// Why a quote was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DcapError {
    /// The collateral is not the JSON `QuoteCollateralV3` form.
    #[error("the DCAP collateral is malformed: {0}")]
    Collateral(String),
    /// The quote, its chain, its collateral or their times do not verify.
    #[error("the DCAP quote does not verify: {0}")]
    Verification(String),
    /// The platform's TCB status is not one the caller accepts.
    #[error(
        "the platform's TCB status is {status} (advisories: {advisories:?}), which is not accepted"
    )]
    TcbStatus {
        /// Intel's status, e.g. `UpToDate`, `SWHardeningNeeded`, `OutOfDate`.
        status: String,
        /// Intel security advisory ids.
        advisories: Vec<String>,
    },
}

/// What the quote measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcapMeasurement {
    /// An SGX enclave.
    Sgx {
        /// MRENCLAVE.
        mr_enclave: [u8; 32],
        /// MRSIGNER.
        mr_signer: [u8; 32],
        /// ISV product id.
        isv_prod_id: u16,
        /// ISV security version.
        isv_svn: u16,
    },
    /// A TDX trust domain.
    Tdx {
        /// MRTD: the TD's initial contents.
        mr_td: [u8; 48],
        /// RTMR0–3: runtime measurements (firmware, OS, application).
        rtmrs: [[u8; 48]; 4],
    },
}

/// A verified quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcapQuote {
    /// The measurements.
    pub measurement: DcapMeasurement,
    /// The 64 bytes the enclave or TD chose.
    pub report_data: [u8; 64],
    /// Intel's TCB status for the platform.
    pub tcb_status: String,
    /// Intel security advisory ids that apply.
    pub advisories: Vec<String>,
    /// Whether debug mode is on (SGX attribute DEBUG, TD attribute DEBUG).
    pub debug: bool,
}

/// Verifies `quote` with `collateral` (the JSON form of `QuoteCollateralV3`) at `at` (Unix
/// seconds), whatever its TCB status (the agreement judges it); `dcap-qvl` refuses debug and
/// revoked quotes itself.
pub fn verify_signed(quote: &[u8], collateral: &str, at: u64) -> Result<DcapQuote, DcapError> {
    let collateral: QuoteCollateralV3 =
        serde_json::from_str(collateral).map_err(|e| DcapError::Collateral(e.to_string()))?;
    let report = dcap_qvl::verify::verify(quote, &collateral, at).map_err(|e| {
        let text = format!("{e:#}");
        // A platform below every TCB level of Intel's TCB info has no status to report: it is
        // older than anything Intel still describes.
        if text.contains("No matching TCB level") {
            DcapError::TcbStatus {
                status: "OutOfDate (below every level of the TCB info)".into(),
                advisories: Vec::new(),
            }
        } else {
            DcapError::Verification(text)
        }
    })?;
    let (measurement, report_data, debug) = match report.report {
        Report::SgxEnclave(enclave) => (
            DcapMeasurement::Sgx {
                mr_enclave: enclave.mr_enclave,
                mr_signer: enclave.mr_signer,
                isv_prod_id: enclave.isv_prod_id,
                isv_svn: enclave.isv_svn,
            },
            enclave.report_data,
            // ATTRIBUTES.DEBUG is bit 1 of the first byte.
            enclave.attributes[0] & 0x02 != 0,
        ),
        Report::TD10(td) => tdx(&td),
        Report::TD15(td) => tdx(&td.base),
        Report::TD15Ex(td) => tdx(&td.base.base),
    };
    Ok(DcapQuote {
        measurement,
        report_data,
        tcb_status: report.status,
        advisories: report.advisory_ids,
        debug,
    })
}

fn tdx(td: &dcap_qvl::quote::TDReport10) -> (DcapMeasurement, [u8; 64], bool) {
    (
        DcapMeasurement::Tdx {
            mr_td: td.mr_td,
            rtmrs: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3],
        },
        td.report_data,
        // TDATTRIBUTES.DEBUG is bit 0.
        td.td_attributes[0] & 0x01 != 0,
    )
}
