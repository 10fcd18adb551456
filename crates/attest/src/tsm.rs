//! Evidence from the Linux kernel's configfs-tsm report interface (Linux ≥ 6.7): one directory
//! per request under `/sys/kernel/config/tsm/report/`, the 64 bytes of report data written to
//! `inblob`, the report read from `outblob`, the platform named by `provider` (`sev_guest` for
//! an SEV-SNP report, `tdx_guest` for a TDX quote), and for SEV-SNP the host's certificate table
//! (with the VCEK or VLEK) in `auxblob`. `generation` counts writes to the entry: it must grow
//! by exactly our one write, and the report must carry the report data we wrote, so a report
//! made for someone else's write to the same entry is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sealroom_core::agreement::Agreement;
use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::ids::Measurement;

use crate::Attester;
use crate::registers::{own_registers, own_report_data};
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

/// The certificate of the key that signed `report` (the VCEK, or the VLEK when the report's
/// key-info bits 2–4 say so) in an SEV-SNP certificate table: entries of a 16-byte GUID, a
/// 4-byte offset and a 4-byte length (little-endian, offsets from the table's start), ended by
/// an all-zero entry. Both GUID byte orders in use are recognized.
pub fn snp_key_certificate(table: &[u8], report: &[u8]) -> Option<Vec<u8>> {
    let key_info = u32::from_le_bytes(report.get(0x48..0x4C)?.try_into().ok()?);
    let wanted = match (key_info >> 2) & 0b111 {
        0 => VCEK_GUID,
        1 => VLEK_GUID,
        _ => return None,
    };
    table_entry(table, wanted)
}

/// The blob a certificate table holds under `guid`.
fn table_entry(table: &[u8], guid: &str) -> Option<Vec<u8>> {
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
    let (plain, mixed) = (guid_bytes(guid), guid_bytes_mixed(guid));
    entries
        .iter()
        .find(|(g, _, _)| *g == plain || *g == mixed)
        .and_then(|(_, offset, length)| table.get(*offset..offset.checked_add(*length)?))
        .map(<[u8]>::to_vec)
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

/// One report entry's attributes: a configfs directory, or in tests a stand-in kernel.
trait ReportEntry {
    /// Reads attribute `name`.
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>>;
    /// Writes attribute `name`.
    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()>;
}

impl ReportEntry for PathBuf {
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.join(name))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(self.join(name), bytes)
    }
}

fn read_entry(entry: &dyn ReportEntry, report_data: &[u8; 64]) -> Result<TsmReport, AttestError> {
    let read = |name: &str| {
        entry
            .read(name)
            .map_err(io_error(format!("cannot read {name}")))
    };
    let generation = |text: Vec<u8>| String::from_utf8_lossy(&text).trim().parse::<u64>().ok();
    let before = generation(read("generation")?);
    entry
        .write("inblob", report_data)
        .map_err(io_error("cannot write inblob".into()))?;
    let provider = String::from_utf8_lossy(&read("provider")?).into_owned();
    let platform = provider_platform(&provider).ok_or_else(|| AttestError::Producing {
        reason: format!("unknown configfs-tsm provider {:?}", provider.trim()),
    })?;
    let outblob = read("outblob")?;
    let auxblob = match entry.read("auxblob") {
        Ok(blob) if !blob.is_empty() => Some(blob),
        _ => None,
    };
    // Our one write, and nobody else's, between the two reads.
    let after = generation(read("generation")?);
    if before.is_none() || after != before.map(|g| g + 1) {
        return Err(AttestError::Producing {
            reason: "the report entry was written to by someone else while it was read".into(),
        });
    }
    if own_report_data(platform, &outblob) != Some(*report_data) {
        return Err(AttestError::Producing {
            reason: format!("the {platform} report does not carry the report data written"),
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
                .and_then(|table| snp_key_certificate(table, &report.outblob))
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
    use std::cell::RefCell;

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

    fn vcek_report() -> Vec<u8> {
        raw(&format!("{SNP_DIR}/test-report.bin"))
    }

    fn vlek_report() -> Vec<u8> {
        raw(&format!("{SNP_DIR}/test-vlek-report.bin"))
    }

    #[test]
    fn the_signing_key_is_found_in_either_guid_layout_and_nothing_else_is_taken_for_it() {
        let vcek = raw(&format!("{SNP_DIR}/test-vcek.der"));
        let ask = guid_bytes("4ab7b379-bbac-4fe4-a02f-05aef327c782");
        for guid in [guid_bytes(VCEK_GUID), guid_bytes_mixed(VCEK_GUID)] {
            let t = table(&[(ask, b"ask".as_slice()), (guid, &vcek)]);
            assert_eq!(snp_key_certificate(&t, &vcek_report()), Some(vcek.clone()));
        }
        // A table holding both: the key the report names.
        let both = table(&[
            (guid_bytes(VCEK_GUID), &vcek),
            (guid_bytes(VLEK_GUID), b"vlek".as_slice()),
        ]);
        assert_eq!(
            snp_key_certificate(&both, &vlek_report()),
            Some(b"vlek".to_vec())
        );
        assert_eq!(
            snp_key_certificate(&both, &vcek_report()),
            Some(vcek.clone())
        );
        let only_ask = table(&[(ask, b"ask".as_slice())]);
        assert_eq!(snp_key_certificate(&only_ask, &vcek_report()), None);
        // An entry pointing past the table is ignored, not a panic.
        let mut broken = table(&[(guid_bytes(VCEK_GUID), &vcek)]);
        broken.truncate(100);
        assert_eq!(snp_key_certificate(&broken, &vcek_report()), None);
        assert_eq!(snp_key_certificate(&[], &vcek_report()), None);
        assert_eq!(snp_key_certificate(&both, &[0; 10]), None);
    }

    #[test]
    fn providers_name_their_platforms() {
        assert_eq!(provider_platform("sev_guest\n"), Some(Platform::SevSnp));
        assert_eq!(provider_platform("tdx_guest"), Some(Platform::Tdx));
        assert_eq!(provider_platform("arm_cca_guest"), None);
    }

    /// A stand-in for the kernel's side of one entry: it answers with a real SEV-SNP report
    /// and bumps `generation` by `bump` on every write.
    struct Kernel {
        provider: &'static str,
        outblob: Vec<u8>,
        auxblob: Vec<u8>,
        generation: RefCell<u64>,
        bump: u64,
        written: RefCell<Vec<u8>>,
    }

    impl Kernel {
        fn new(bump: u64) -> Self {
            let vcek = raw(&format!("{SNP_DIR}/test-vcek.der"));
            Self {
                provider: "sev_guest\n",
                outblob: vcek_report(),
                auxblob: table(&[(guid_bytes(VCEK_GUID), &vcek)]),
                generation: RefCell::new(7),
                bump,
                written: RefCell::new(Vec::new()),
            }
        }
    }

    impl ReportEntry for Kernel {
        fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
            Ok(match name {
                "provider" => self.provider.into(),
                "outblob" => self.outblob.clone(),
                "auxblob" => self.auxblob.clone(),
                "generation" => format!("{}\n", self.generation.borrow()).into_bytes(),
                _ => return Err(std::io::ErrorKind::NotFound.into()),
            })
        }

        fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
            assert_eq!(name, "inblob");
            *self.written.borrow_mut() = bytes.to_vec();
            *self.generation.borrow_mut() += self.bump;
            Ok(())
        }
    }

    /// The report data the sample report carries, which is what must have been written.
    fn sample_report_data() -> [u8; 64] {
        vcek_report()[0x50..0x90].try_into().unwrap()
    }

    #[test]
    fn an_entry_is_read_as_the_interface_describes() {
        let kernel = Kernel::new(1);
        let report = read_entry(&kernel, &sample_report_data()).unwrap();
        assert_eq!(*kernel.written.borrow(), sample_report_data());
        assert_eq!(report.platform, Platform::SevSnp);
        assert_eq!(report.outblob, vcek_report());
        assert_eq!(
            report
                .auxblob
                .as_deref()
                .and_then(|t| snp_key_certificate(t, &report.outblob)),
            Some(raw(&format!("{SNP_DIR}/test-vcek.der")))
        );
        let registers = own_registers(report.platform, &report.outblob).unwrap();
        assert!(registers["measurement"].starts_with("a1f3930413247bb3"));
    }

    #[test]
    fn a_report_for_someone_elses_write_is_refused() {
        // Another writer wrote to the entry between our reads.
        let raced = read_entry(&Kernel::new(2), &sample_report_data());
        assert!(
            matches!(&raced, Err(AttestError::Producing { reason }) if reason.contains("someone else")),
            "{raced:?}"
        );
        // The report carries other report data than we wrote.
        let other = read_entry(&Kernel::new(1), &[9; 64]);
        assert!(
            matches!(&other, Err(AttestError::Producing { reason }) if reason.contains("does not carry")),
            "{other:?}"
        );
        let mut unknown = Kernel::new(1);
        unknown.provider = "cca_guest";
        assert!(matches!(
            read_entry(&unknown, &sample_report_data()),
            Err(AttestError::Producing { reason }) if reason.contains("cca_guest")
        ));
    }
}
