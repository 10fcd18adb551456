//! What an agreement accepts as a runtime on each platform, and the check of verified claims
//! against it.
//!
//! On the simulator a runtime is the SHA-256 of the isolate executable. On hardware it is a set
//! of the platform's own registers, written as the platform reports them:
//!
//! | platform | required | optional |
//! |---|---|---|
//! | `sev-snp` | `measurement` | `host_data`, `vmpl` |
//! | `tdx` | `mrtd`, `rtmr0`, `rtmr1`, `rtmr2` | `rtmr3` |
//! | `sgx` | `mrenclave`, or `mrsigner` + `isv_prod_id` + `min_isv_svn` | |
//! | `nitro` | `pcr0`, `pcr1`, `pcr2` | `pcr8` |
//!
//! Each accepted set has a [`Measurement`]: the labeled SHA-256 of its canonical form, which is
//! what owners approve and revoke and what the log records. A TCB policy per platform names the
//! TCB statuses accepted besides `UpToDate` (TDX, SGX) and minimum security versions (SNP).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::agreement::RuntimeTerms;
use crate::attestation::{Claims, Platform};
use crate::canonical::canonical_digest;
use crate::ids::Measurement;
use crate::labels;

/// A platform's verdict on its trusted computing base, in Intel's words where Intel has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TcbStatus {
    /// The platform is patched to the latest TCB level Intel describes.
    UpToDate,
    /// Up to date, but software hardening (advisories) is needed.
    #[serde(rename = "SWHardeningNeeded")]
    SwHardeningNeeded,
    /// Up to date, but the platform's configuration needs changes.
    ConfigurationNeeded,
    /// Both of the above.
    #[serde(rename = "ConfigurationAndSWHardeningNeeded")]
    ConfigurationAndSwHardeningNeeded,
    /// The platform's TCB is older than the latest.
    OutOfDate,
    /// Out of date and its configuration needs changes.
    OutOfDateConfigurationNeeded,
    /// TDX: a TD relaunch is advised to pick up a newer TCB.
    #[serde(rename = "TDRelaunchAdvised")]
    TdRelaunchAdvised,
    /// TDX: a relaunch is advised and the configuration needs changes.
    #[serde(rename = "TDRelaunchAdvisedConfigurationNeeded")]
    TdRelaunchAdvisedConfigurationNeeded,
    /// The platform reports no status (simulator, SEV-SNP, Nitro): policy reads its versions.
    NotReported,
}

impl TcbStatus {
    /// Intel's name for the status.
    pub fn name(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SwHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSwHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::TdRelaunchAdvised => "TDRelaunchAdvised",
            Self::TdRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
            Self::NotReported => "NotReported",
        }
    }

    /// Reads Intel's name for a status; `None` for names sealroom does not accept at all
    /// (such as `Revoked`).
    pub fn from_intel(name: &str) -> Option<Self> {
        [
            Self::UpToDate,
            Self::SwHardeningNeeded,
            Self::ConfigurationNeeded,
            Self::ConfigurationAndSwHardeningNeeded,
            Self::OutOfDate,
            Self::OutOfDateConfigurationNeeded,
            Self::TdRelaunchAdvised,
            Self::TdRelaunchAdvisedConfigurationNeeded,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What verified evidence says about the platform's trusted computing base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcbClaims {
    /// The status, where the platform's vendor gives one.
    pub status: TcbStatus,
    /// Security advisory ids that apply (Intel's `INTEL-SA-…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<String>,
    /// Security version numbers by component (SNP: `bootloader`, `tee`, `snp`, `microcode`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, u64>,
}

impl TcbClaims {
    /// A platform that reports neither status nor versions.
    pub fn not_reported() -> Self {
        Self {
            status: TcbStatus::NotReported,
            advisories: Vec::new(),
            versions: BTreeMap::new(),
        }
    }
}

/// How a field of an accepted runtime is written and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    /// Lowercase hex of this many bytes, equal to the claim of the same name.
    Hex(usize),
    /// A decimal number, equal to the claim of the same name.
    Number,
    /// A decimal number the named claim must reach.
    MinimumOf(&'static str),
}

struct FieldSpec {
    name: &'static str,
    kind: FieldKind,
}

const fn hex(name: &'static str, bytes: usize) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Hex(bytes),
    }
}

const SNP_FIELDS: &[FieldSpec] = &[
    hex("measurement", 48),
    hex("host_data", 32),
    FieldSpec {
        name: "vmpl",
        kind: FieldKind::Number,
    },
];
const TDX_FIELDS: &[FieldSpec] = &[
    hex("mrtd", 48),
    hex("rtmr0", 48),
    hex("rtmr1", 48),
    hex("rtmr2", 48),
    hex("rtmr3", 48),
];
const SGX_FIELDS: &[FieldSpec] = &[
    hex("mrenclave", 32),
    hex("mrsigner", 32),
    FieldSpec {
        name: "isv_prod_id",
        kind: FieldKind::Number,
    },
    FieldSpec {
        name: "min_isv_svn",
        kind: FieldKind::MinimumOf("isv_svn"),
    },
];
const NITRO_FIELDS: &[FieldSpec] = &[
    hex("pcr0", 48),
    hex("pcr1", 48),
    hex("pcr2", 48),
    hex("pcr8", 48),
];
/// The SNP TCB components a minimum may name.
const SNP_TCB_COMPONENTS: &[&str] = &["bootloader", "tee", "snp", "microcode", "fmc"];

fn field_specs(platform: Platform) -> &'static [FieldSpec] {
    match platform {
        Platform::Sim => &[],
        Platform::SevSnp => SNP_FIELDS,
        Platform::Tdx => TDX_FIELDS,
        Platform::Sgx => SGX_FIELDS,
        Platform::Nitro => NITRO_FIELDS,
    }
}

/// Which fields one accepted set must name, as alternatives (any one group suffices).
fn required_groups(platform: Platform) -> &'static [&'static [&'static str]] {
    match platform {
        Platform::Sim => &[],
        Platform::SevSnp => &[&["measurement"]],
        // MRTD measures only the firmware: the RTMRs say what it booted.
        Platform::Tdx => &[&["mrtd", "rtmr0", "rtmr1", "rtmr2"]],
        // A signer without a minimum version would accept its every older, maybe vulnerable build.
        Platform::Sgx => &[&["mrenclave"], &["mrsigner", "isv_prod_id", "min_isv_svn"]],
        Platform::Nitro => &[&["pcr0", "pcr1", "pcr2"]],
    }
}

/// Checks one accepted set of registers against the platform's table; `Err` says what is wrong.
pub(crate) fn check_accepted(
    platform: Platform,
    fields: &BTreeMap<String, String>,
) -> Result<(), String> {
    let specs = field_specs(platform);
    for (name, value) in fields {
        let spec = specs.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<_> = specs.iter().map(|s| s.name).collect();
            format!(
                "unknown field {name:?} (a {platform} runtime names {})",
                known.join(", ")
            )
        })?;
        match spec.kind {
            FieldKind::Hex(bytes) => {
                let ok = value.len() == bytes * 2
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !ok {
                    return Err(format!(
                        "{name} must be {bytes} bytes in lowercase hex ({} digits)",
                        bytes * 2
                    ));
                }
            }
            FieldKind::Number | FieldKind::MinimumOf(_) => {
                // Canonical decimal only, as claims write numbers: "007" would never match "7".
                if value.parse::<u64>().map(|n| n.to_string()).as_deref() != Ok(value.as_str()) {
                    return Err(format!(
                        "{name} must be a whole number in plain decimal, not {value:?}"
                    ));
                }
            }
        }
    }
    let groups = required_groups(platform);
    if !groups
        .iter()
        .any(|group| group.iter().all(|f| fields.contains_key(*f)))
    {
        let alternatives: Vec<_> = groups.iter().map(|g| g.join(" + ")).collect();
        return Err(format!(
            "an accepted {platform} runtime must name {}",
            alternatives.join(", or ")
        ));
    }
    Ok(())
}

/// Refuses two accepted sets that some evidence could match both of (the first would win,
/// and an owner who approved only the second would be refused): two sets are apart only if a
/// register or number they both name differs.
pub(crate) fn check_apart(
    platform: Platform,
    sets: &[BTreeMap<String, String>],
) -> Result<(), String> {
    let specs = field_specs(platform);
    for (i, a) in sets.iter().enumerate() {
        for (j, b) in sets[..i].iter().enumerate() {
            let differ = a.iter().any(|(name, value)| {
                let exact = specs
                    .iter()
                    .any(|s| s.name == name && !matches!(s.kind, FieldKind::MinimumOf(_)));
                exact && b.get(name).is_some_and(|other| other != value)
            });
            if !differ {
                return Err(format!(
                    "accepted sets {} and {} can match the same evidence: make a register they both name differ",
                    j + 1,
                    i + 1
                ));
            }
        }
    }
    Ok(())
}

/// Checks a TCB policy's minimums against the platform.
pub(crate) fn check_minimums(
    platform: Platform,
    minimums: &BTreeMap<String, u64>,
) -> Result<(), String> {
    let allowed: &[&str] = match platform {
        Platform::SevSnp => SNP_TCB_COMPONENTS,
        _ => &[],
    };
    for name in minimums.keys() {
        if !allowed.contains(&name.as_str()) {
            return Err(if allowed.is_empty() {
                format!("{platform} has no TCB versions a minimum could name ({name:?})")
            } else {
                format!(
                    "unknown TCB component {name:?} (a {platform} minimum names {})",
                    allowed.join(", ")
                )
            });
        }
    }
    Ok(())
}

/// The labeled digest that identifies an accepted hardware runtime.
pub fn hardware_runtime_id(platform: Platform, fields: &BTreeMap<String, String>) -> Measurement {
    #[derive(Serialize)]
    struct Identified<'a> {
        platform: Platform,
        fields: &'a BTreeMap<String, String>,
    }
    let digest = canonical_digest(labels::RUNTIME, &Identified { platform, fields })
        .expect("strings serialize canonically");
    Measurement(digest.0)
}

/// Why claims do not match what an agreement accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeMismatch {
    /// The agreement names no runtime on the evidence's platform.
    #[error("the agreement accepts no runtime on {0}")]
    PlatformNotInAgreement(Platform),
    /// The isolate runs in debug mode.
    #[error("the isolate runs in debug mode: its memory is readable by the host")]
    Debug,
    /// An SEV-SNP guest whose policy allows a migration agent, which can export its memory.
    #[error(
        "the SEV-SNP guest policy allows a migration agent (bit 18), which can export the guest's memory"
    )]
    MigrationAgent,
    /// The TCB status is neither `UpToDate` nor one the agreement accepts.
    #[error(
        "the platform's TCB status is {status} (advisories: {advisories:?}), which the agreement does not accept"
    )]
    TcbStatus {
        /// The reported status.
        status: TcbStatus,
        /// Advisories that apply.
        advisories: Vec<String>,
    },
    /// A TCB component's version is below the agreement's minimum.
    #[error(
        "the platform's {component} version is {reported}, below the agreement's minimum {minimum}"
    )]
    TcbBelowMinimum {
        /// The component.
        component: String,
        /// What the evidence reports (absent: 0).
        reported: u64,
        /// The agreement's minimum.
        minimum: u64,
    },
    /// The measured runtime is none of those the agreement accepts.
    #[error(
        "the measured {platform} runtime ({summary}) is not among the agreement's accepted runtimes"
    )]
    NotAccepted {
        /// The platform.
        platform: Platform,
        /// The claims' identifying fields, for the refusal.
        summary: String,
    },
}

impl RuntimeTerms {
    /// The ids of the runtimes this entry accepts: on the simulator its measurements, on
    /// hardware the digest of each accepted set of registers.
    pub fn runtime_ids(&self) -> Vec<Measurement> {
        match self.platform {
            Platform::Sim => self.measurements.clone(),
            platform => self
                .accept
                .iter()
                .map(|fields| hardware_runtime_id(platform, fields))
                .collect(),
        }
    }

    /// Checks verified claims of this entry's platform against the TCB policy and the accepted
    /// runtimes; returns the id of the runtime they match. Debug mode is always refused.
    pub fn check_claims(&self, claims: &Claims) -> Result<Measurement, RuntimeMismatch> {
        if claims.platform != self.platform {
            return Err(RuntimeMismatch::PlatformNotInAgreement(claims.platform));
        }
        if claims.debug {
            return Err(RuntimeMismatch::Debug);
        }
        if claims.platform == Platform::SevSnp && snp_allows_migration_agent(claims) {
            return Err(RuntimeMismatch::MigrationAgent);
        }
        let status = claims.tcb.status;
        if !matches!(status, TcbStatus::UpToDate | TcbStatus::NotReported)
            && !self.accept_tcb_status.contains(&status)
        {
            return Err(RuntimeMismatch::TcbStatus {
                status,
                advisories: claims.tcb.advisories.clone(),
            });
        }
        for (component, &minimum) in &self.min_tcb {
            let reported = claims.tcb.versions.get(component).copied().unwrap_or(0);
            if reported < minimum {
                return Err(RuntimeMismatch::TcbBelowMinimum {
                    component: component.clone(),
                    reported,
                    minimum,
                });
            }
        }
        self.matching_id(&claims.fields)
            .ok_or_else(|| RuntimeMismatch::NotAccepted {
                platform: claims.platform,
                summary: identifying_summary(claims),
            })
    }

    /// The id of the accepted runtime these fields (named as in claims) match, if any. No TCB
    /// or debug check: see [`Self::check_claims`].
    pub fn matching_id(&self, fields: &BTreeMap<String, String>) -> Option<Measurement> {
        match self.platform {
            Platform::Sim => fields
                .get("measurement")
                .and_then(|m| m.parse::<Measurement>().ok())
                .filter(|m| self.measurements.contains(m)),
            platform => self
                .accept
                .iter()
                .find(|accepted| matches_claims(platform, accepted, fields))
                .map(|accepted| hardware_runtime_id(platform, accepted)),
        }
    }
}

/// Bit 18 (MIGRATE_MA) of the guest policy, which SEV-SNP claims carry as 16 hex digits; a
/// policy that cannot be read counts as allowing it.
fn snp_allows_migration_agent(claims: &Claims) -> bool {
    claims
        .fields
        .get("policy")
        .and_then(|p| u64::from_str_radix(p, 16).ok())
        .is_none_or(|policy| policy & (1 << 18) != 0)
}

fn matches_claims(
    platform: Platform,
    accepted: &BTreeMap<String, String>,
    claims: &BTreeMap<String, String>,
) -> bool {
    let specs = field_specs(platform);
    accepted.iter().all(|(name, value)| {
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            return false;
        };
        match spec.kind {
            FieldKind::Hex(_) | FieldKind::Number => claims.get(name) == Some(value),
            FieldKind::MinimumOf(claim) => {
                let minimum = value.parse::<u64>().ok();
                let reported = claims.get(claim).and_then(|v| v.parse::<u64>().ok());
                matches!((reported, minimum), (Some(r), Some(m)) if r >= m)
            }
        }
    })
}

/// The claims' fields an accepted runtime could name, for a refusal's message.
fn identifying_summary(claims: &Claims) -> String {
    let names: Vec<&str> = match claims.platform {
        Platform::Sim => vec!["measurement"],
        platform => field_specs(platform)
            .iter()
            .map(|s| match s.kind {
                FieldKind::MinimumOf(claim) => claim,
                _ => s.name,
            })
            .collect(),
    };
    names
        .iter()
        .filter_map(|n| claims.fields.get(*n).map(|v| format!("{n} {v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn claims(platform: Platform, status: TcbStatus, fields: &[(&str, &str)]) -> Claims {
        Claims {
            platform,
            report_data: [0; 64],
            debug: false,
            tcb: TcbClaims {
                status,
                advisories: vec!["INTEL-SA-00615".into()],
                versions: BTreeMap::from([("snp".to_string(), 8)]),
            },
            fields: set(fields),
        }
    }

    fn terms(platform: Platform, accept: Vec<BTreeMap<String, String>>) -> RuntimeTerms {
        RuntimeTerms {
            platform,
            measurements: Vec::new(),
            accept,
            accept_tcb_status: Vec::new(),
            min_tcb: BTreeMap::new(),
        }
    }

    const A32: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const B32: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn accepted_sets_are_checked_against_the_platform_table() {
        assert!(check_accepted(Platform::Sgx, &set(&[("mrenclave", A32)])).is_ok());
        assert!(
            check_accepted(
                Platform::Sgx,
                &set(&[
                    ("mrsigner", A32),
                    ("isv_prod_id", "3"),
                    ("min_isv_svn", "2")
                ])
            )
            .is_ok()
        );
        let err = check_accepted(Platform::Sgx, &set(&[("mrsigner", A32)])).unwrap_err();
        assert!(
            err.contains("mrenclave, or mrsigner + isv_prod_id"),
            "{err}"
        );
        let err = check_accepted(Platform::Sgx, &set(&[("mrenclave", &A32[2..])])).unwrap_err();
        assert!(err.contains("32 bytes"), "{err}");
        let upper = A32.replace('1', "A");
        assert!(check_accepted(Platform::Sgx, &set(&[("mrenclave", &upper)])).is_err());
        let err = check_accepted(Platform::Tdx, &set(&[("mrenclave", A32)])).unwrap_err();
        assert!(err.contains("unknown field \"mrenclave\""), "{err}");
        // TDX needs the RTMRs that say what the firmware booted; SGX signers a minimum version.
        let r48 = A32.repeat(2)[..96].to_string();
        let err = check_accepted(Platform::Tdx, &set(&[("mrtd", &r48)])).unwrap_err();
        assert!(err.contains("mrtd + rtmr0 + rtmr1 + rtmr2"), "{err}");
        let err = check_accepted(
            Platform::Sgx,
            &set(&[("mrsigner", A32), ("isv_prod_id", "3")]),
        )
        .unwrap_err();
        assert!(err.contains("min_isv_svn"), "{err}");
        // Numbers in plain decimal only.
        for bad in ["03", "+3", "3.0", "-1"] {
            let err = check_accepted(
                Platform::Sgx,
                &set(&[
                    ("mrsigner", A32),
                    ("isv_prod_id", bad),
                    ("min_isv_svn", "1"),
                ]),
            )
            .unwrap_err();
            assert!(err.contains("plain decimal"), "{bad}: {err}");
        }
        // Sets some evidence could match both of are refused; sets apart are not.
        let a = set(&[
            ("mrsigner", A32),
            ("isv_prod_id", "3"),
            ("min_isv_svn", "1"),
        ]);
        let b = set(&[
            ("mrsigner", A32),
            ("isv_prod_id", "3"),
            ("min_isv_svn", "5"),
        ]);
        let c = set(&[
            ("mrsigner", B32),
            ("isv_prod_id", "3"),
            ("min_isv_svn", "1"),
        ]);
        let err = check_apart(Platform::Sgx, &[a.clone(), c.clone(), b]).unwrap_err();
        assert!(err.contains("sets 1 and 3"), "{err}");
        assert!(check_apart(Platform::Sgx, &[a, c]).is_ok());
        let only_enclave = set(&[("mrenclave", A32)]);
        assert!(check_apart(Platform::Sgx, &[only_enclave, set(&[("mrenclave", B32)])]).is_ok());
        assert!(check_accepted(Platform::Nitro, &set(&[("pcr0", A32)])).is_err());
        assert!(check_minimums(Platform::SevSnp, &BTreeMap::from([("tee".into(), 1)])).is_ok());
        assert!(check_minimums(Platform::SevSnp, &BTreeMap::from([("fw".into(), 1)])).is_err());
        assert!(check_minimums(Platform::Nitro, &BTreeMap::from([("snp".into(), 1)])).is_err());
    }

    #[test]
    fn claims_match_an_accepted_set_and_its_id() {
        let accepted = set(&[
            ("mrsigner", A32),
            ("isv_prod_id", "3"),
            ("min_isv_svn", "2"),
        ]);
        let t = terms(
            Platform::Sgx,
            vec![set(&[("mrenclave", B32)]), accepted.clone()],
        );
        let ok = |svn: &str| {
            t.check_claims(&claims(
                Platform::Sgx,
                TcbStatus::UpToDate,
                &[
                    ("mrenclave", A32),
                    ("mrsigner", A32),
                    ("isv_prod_id", "3"),
                    ("isv_svn", svn),
                ],
            ))
        };
        assert_eq!(ok("2"), Ok(hardware_runtime_id(Platform::Sgx, &accepted)));
        assert_eq!(ok("9"), Ok(hardware_runtime_id(Platform::Sgx, &accepted)));
        assert!(matches!(ok("1"), Err(RuntimeMismatch::NotAccepted { .. })));
        assert_eq!(
            t.runtime_ids()[1],
            hardware_runtime_id(Platform::Sgx, &accepted)
        );
        // Ids differ by platform and by every field.
        assert_ne!(
            hardware_runtime_id(Platform::Sgx, &set(&[("mrenclave", A32)])),
            hardware_runtime_id(Platform::Sgx, &set(&[("mrenclave", B32)]))
        );
    }

    #[test]
    fn tcb_policy_and_debug_are_enforced() {
        let mut t = terms(Platform::Sgx, vec![set(&[("mrenclave", A32)])]);
        let c = |status| claims(Platform::Sgx, status, &[("mrenclave", A32)]);
        assert!(t.check_claims(&c(TcbStatus::UpToDate)).is_ok());
        assert!(matches!(
            t.check_claims(&c(TcbStatus::SwHardeningNeeded)),
            Err(RuntimeMismatch::TcbStatus {
                status: TcbStatus::SwHardeningNeeded,
                ..
            })
        ));
        t.accept_tcb_status = vec![TcbStatus::SwHardeningNeeded];
        assert!(t.check_claims(&c(TcbStatus::SwHardeningNeeded)).is_ok());
        assert!(t.check_claims(&c(TcbStatus::OutOfDate)).is_err());
        let mut debug = c(TcbStatus::UpToDate);
        debug.debug = true;
        assert_eq!(t.check_claims(&debug), Err(RuntimeMismatch::Debug));

        let mut snp = terms(
            Platform::SevSnp,
            vec![set(&[("measurement", &A32.repeat(2)[..96])])],
        );
        snp.min_tcb = BTreeMap::from([("snp".to_string(), 9)]);
        let mut report = claims(
            Platform::SevSnp,
            TcbStatus::NotReported,
            &[
                ("measurement", &A32.repeat(2)[..96]),
                ("policy", "0000000000030000"),
            ],
        );
        assert_eq!(
            snp.check_claims(&report),
            Err(RuntimeMismatch::TcbBelowMinimum {
                component: "snp".into(),
                reported: 8,
                minimum: 9
            })
        );
        snp.min_tcb.insert("snp".into(), 8);
        assert!(snp.check_claims(&report).is_ok());
        // A policy allowing a migration agent (bit 18), or none at all, is refused.
        report
            .fields
            .insert("policy".into(), "0000000000070000".into());
        assert_eq!(
            snp.check_claims(&report),
            Err(RuntimeMismatch::MigrationAgent)
        );
        report.fields.remove("policy");
        assert_eq!(
            snp.check_claims(&report),
            Err(RuntimeMismatch::MigrationAgent)
        );
        assert_eq!(
            snp.check_claims(&claims(Platform::Tdx, TcbStatus::UpToDate, &[])),
            Err(RuntimeMismatch::PlatformNotInAgreement(Platform::Tdx))
        );
    }
}
