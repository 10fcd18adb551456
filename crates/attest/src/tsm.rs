//! Evidence from the Linux kernel's configfs-tsm report interface (Linux ≥ 6.7): one directory
//! per request under `/sys/kernel/config/tsm/report/`, the 64 bytes of report data written to
//! `inblob`, the report read from `outblob`, the platform named by `provider` (`sev_guest` for
//! an SEV-SNP report, `tdx_guest` for a TDX quote), and for SEV-SNP the host's certificate table
//! (with the VCEK or VLEK) in `auxblob`. `generation` counts writes to the entry, so a report
//! read while someone else wrote to the same entry is detected and refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sealroom_core::agreement::Agreement;
use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::ids::Measurement;

use crate::Attester;
use crate::registers::own_registers;
use crate::verify::AttestError;

/// Where the kernel mounts the report interface.
pub const TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// The SEV-SNP certificate table's GUIDs for the chip's VCEK and the provider's VLEK
/// (GHCB specification, certificate table), as written in text.
const VCEK_GUID: &str = "63da758d-e664-4564-adc5-f4b93be8accd";
const VLEK_GUID: &str = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";

/// The platform a configfs-tsm provider serves.
pub fn provider_platform(provider: &str) -> Option<Platform> {
    match provider.trim() {
        "sev_guest" => Some(Platform::SevSnp),
        "tdx_guest" => Some(Platform::Tdx),
        _ => None,
    }
}

fn guid_bytes(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("a constant GUID");
    }
    out
}

/// The same GUID in the mixed-endian layout UEFI and Microsoft write (first three groups
/// little-endian).
fn guid_bytes_mixed(text: &str) -> [u8; 16] {
    let mut b = guid_bytes(text);
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

/// The VCEK (or else VLEK) certificate in an SEV-SNP certificate table: entries of a 16-byte
/// GUID, a 4-byte offset and a 4-byte length (little-endian, offsets from the table's start),
/// ended by an all-zero entry. Both GUID byte orders in use are recognized.
pub fn snp_key_certificate(table: &[u8]) -> Option<Vec<u8>> {
    let mut entries = Vec::new();
    for entry in table.chunks_exact(24) {
        if entry.iter().all(|b| *b == 0) {
            break;
        }
        let guid: [u8; 16] = entry[..16].try_into().expect("16 bytes");
        let offset = u32::from_le_bytes(entry[16..20].try_into().expect("4 bytes")) as usize;
        let length = u32::from_le_bytes(entry[20..24].try_into().expect("4 bytes")) as usize;
        entries.push((guid, offset, length));
    }
    [VCEK_GUID, VLEK_GUID].iter().find_map(|wanted| {
        let (plain, mixed) = (guid_bytes(wanted), guid_bytes_mixed(wanted));
        entries
            .iter()
            .find(|(guid, _, _)| *guid == plain || *guid == mixed)
            .and_then(|(_, offset, length)| table.get(*offset..offset.checked_add(*length)?))
            .map(<[u8]>::to_vec)
    })
}

/// What one configfs-tsm request returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmReport {
    /// The platform, from the entry's `provider`.
    pub platform: Platform,
    /// The report (SEV-SNP) or quote (TDX).
    pub outblob: Vec<u8>,
    /// The SEV-SNP certificate table, if the host supplied one.
    pub auxblob: Option<Vec<u8>>,
}

/// Produces evidence through configfs-tsm.
#[derive(Debug)]
pub struct TsmAttester {
    root: PathBuf,
    platform: Platform,
    registers: BTreeMap<String, String>,
    collateral: Option<Vec<u8>>,
}

static NEXT_ENTRY: AtomicU64 = AtomicU64::new(0);

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> AttestError {
    move |e| AttestError::Producing {
        reason: format!("{what}: {e}"),
    }
}

/// Makes one report: creates an entry, writes `report_data`, reads the provider, the report and
/// the certificate table, checks that nobody wrote to the entry meanwhile, and removes it.
pub fn request_report(root: &Path, report_data: &[u8; 64]) -> Result<TsmReport, AttestError> {
    let name = format!(
        "sealroom-{}-{}",
        std::process::id(),
        NEXT_ENTRY.fetch_add(1, Ordering::Relaxed)
    );
    let entry = root.join(name);
    std::fs::create_dir(&entry).map_err(io_error(format!("cannot create {}", entry.display())))?;
    let result = read_entry(&entry, report_data);
    // configfs removes the entry's attribute files with the directory.
    let _ = std::fs::remove_dir(&entry);
    result
}

fn read_entry(entry: &Path, report_data: &[u8; 64]) -> Result<TsmReport, AttestError> {
    let read = |name: &str| {
        std::fs::read(entry.join(name)).map_err(io_error(format!("cannot read {name}")))
    };
    std::fs::write(entry.join("inblob"), report_data)
        .map_err(io_error("cannot write inblob".into()))?;
    let generation = read("generation")?;
    let provider = String::from_utf8_lossy(&read("provider")?).into_owned();
    let platform = provider_platform(&provider).ok_or_else(|| AttestError::Producing {
        reason: format!("unknown configfs-tsm provider {:?}", provider.trim()),
    })?;
    let outblob = read("outblob")?;
    let auxblob = match std::fs::read(entry.join("auxblob")) {
        Ok(blob) if !blob.is_empty() => Some(blob),
        _ => None,
    };
    if read("generation")? != generation {
        return Err(AttestError::Producing {
            reason: "the report entry was written to by someone else while it was read".into(),
        });
    }
    Ok(TsmReport {
        platform,
        outblob,
        auxblob,
    })
}

impl TsmAttester {
    /// An attester over the report interface at `root`, learning its platform and registers
    /// from a first report. `collateral` is what the operator fetched for verifiers (TDX: the
    /// DCAP collateral JSON; SEV-SNP: the VCEK, when the host supplies no certificate table).
    pub fn new(root: &Path, collateral: Option<Vec<u8>>) -> Result<Self, AttestError> {
        let first = request_report(root, &[0; 64])?;
        let registers = own_registers(first.platform, &first.outblob)?;
        Ok(Self {
            root: root.to_path_buf(),
            platform: first.platform,
            registers,
            collateral,
        })
    }
}

impl Attester for TsmAttester {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn runtime_id(&self, agreement: &Agreement) -> Measurement {
        crate::hardware_runtime(self.platform, &self.registers, agreement)
    }

    fn attest(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError> {
        let report = request_report(&self.root, &report_data)?;
        if report.platform != self.platform {
            return Err(AttestError::Producing {
                reason: format!(
                    "the provider changed from {} to {}",
                    self.platform, report.platform
                ),
            });
        }
        let endorsements = match self.platform {
            Platform::SevSnp => report
                .auxblob
                .as_deref()
                .and_then(snp_key_certificate)
                .or_else(|| self.collateral.clone()),
            _ => self.collateral.clone(),
        };
        Ok(Evidence {
            platform: self.platform,
            bytes: report.outblob,
            endorsements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_vectors::evidence::{SNP_DIR, raw};

    /// A certificate table as a host writes it: entries, the zero terminator, then the blobs.
    fn table(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
        let header = (entries.len() + 1) * 24;
        let mut head = Vec::new();
        let mut body = Vec::new();
        for (guid, blob) in entries {
            head.extend_from_slice(guid);
            head.extend_from_slice(&((header + body.len()) as u32).to_le_bytes());
            head.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            body.extend_from_slice(blob);
        }
        head.extend_from_slice(&[0; 24]);
        head.extend_from_slice(&body);
        head
    }

    #[test]
    fn the_vcek_is_found_in_either_guid_layout_and_nothing_else_is_taken_for_it() {
        let vcek = raw(&format!("{SNP_DIR}/test-vcek.der"));
        let ask = guid_bytes("4ab7b379-bbac-4fe4-a02f-05aef327c782");
        for guid in [guid_bytes(VCEK_GUID), guid_bytes_mixed(VCEK_GUID)] {
            let t = table(&[(ask, b"ask".as_slice()), (guid, &vcek)]);
            assert_eq!(snp_key_certificate(&t), Some(vcek.clone()));
        }
        let vlek = table(&[(guid_bytes(VLEK_GUID), b"vlek".as_slice())]);
        assert_eq!(snp_key_certificate(&vlek), Some(b"vlek".to_vec()));
        assert_eq!(
            snp_key_certificate(&table(&[(ask, b"ask".as_slice())])),
            None
        );
        // An entry pointing past the table is ignored, not a panic.
        let mut broken = table(&[(guid_bytes(VCEK_GUID), &vcek)]);
        broken.truncate(100);
        assert_eq!(snp_key_certificate(&broken), None);
        assert_eq!(snp_key_certificate(&[]), None);
    }

    #[test]
    fn providers_name_their_platforms() {
        assert_eq!(provider_platform("sev_guest\n"), Some(Platform::SevSnp));
        assert_eq!(provider_platform("tdx_guest"), Some(Platform::Tdx));
        assert_eq!(provider_platform("arm_cca_guest"), None);
    }

    /// An entry as the kernel fills it after `inblob` is written, holding a real SNP report.
    fn filled_entry(provider: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let vcek = raw(&format!("{SNP_DIR}/test-vcek.der"));
        std::fs::write(dir.path().join("provider"), provider).unwrap();
        std::fs::write(dir.path().join("generation"), "2\n").unwrap();
        std::fs::write(
            dir.path().join("outblob"),
            raw(&format!("{SNP_DIR}/test-report.bin")),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("auxblob"),
            table(&[(guid_bytes(VCEK_GUID), &vcek)]),
        )
        .unwrap();
        dir
    }

    #[test]
    fn an_entry_is_read_as_the_interface_describes() {
        let entry = filled_entry("sev_guest\n");
        let report = read_entry(entry.path(), &[7; 64]).unwrap();
        assert_eq!(std::fs::read(entry.path().join("inblob")).unwrap(), [7; 64]);
        assert_eq!(report.platform, Platform::SevSnp);
        assert_eq!(report.outblob, raw(&format!("{SNP_DIR}/test-report.bin")));
        assert_eq!(
            report.auxblob.as_deref().and_then(snp_key_certificate),
            Some(raw(&format!("{SNP_DIR}/test-vcek.der")))
        );
        let registers = own_registers(report.platform, &report.outblob).unwrap();
        assert!(registers["measurement"].starts_with("a1f3930413247bb3"));
        assert!(matches!(
            read_entry(filled_entry("cca_guest").path(), &[7; 64]),
            Err(AttestError::Producing { reason }) if reason.contains("cca_guest")
        ));
    }
}
