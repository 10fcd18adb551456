//! The TOML form in which people write agreements: a thin mapping onto `sealroom-core`'s
//! [`AgreementFields`], whose rules `Agreement::new` checks. It lives here, not in
//! `sealroom-core`, so that the isolate never carries a TOML parser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use sealroom_core::agreement::{
    AGREEMENT_FORMAT, Agreement, AgreementError, AgreementFields, DatasetTerms, NO_HPKE_KEY,
    NoiseMechanism, OutputTerms, PrivacyTerms, ProgramCatalog, ProgramTerms, RunTerms,
    RuntimeTerms,
};
use sealroom_core::attestation::Platform;
use sealroom_core::bytes;
use sealroom_core::clock::Timestamp;
use sealroom_core::epsilon::Epsilon;
use sealroom_core::ids::Measurement;
use sealroom_core::party::{HpkePublicKey, PARTY_CARD_FORMAT, PartyCard, SigningPublicKey};
use sealroom_core::runtime::TcbStatus;
use sealroom_core::schema::{Column, Schema};

/// The agreement as authored in TOML.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementToml {
    /// Must be `sealroom-agreement/v1`.
    pub format: String,
    /// Human-readable name.
    pub name: String,
    /// Start of validity (TOML date-time or RFC 3339 string).
    pub valid_from: TomlTime,
    /// End of validity.
    pub valid_until: TomlTime,
    /// The parties, one `[[party]]` block each.
    #[serde(default, rename = "party")]
    pub parties: Vec<PartyToml>,
    /// The datasets, one `[[dataset]]` block each.
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<DatasetToml>,
    /// The program.
    pub program: ProgramToml,
    /// Accepted runtimes.
    #[serde(default, rename = "runtime")]
    pub runtimes: Vec<RuntimeToml>,
    /// The outputs and their readers, one `[[output]]` block each.
    #[serde(default, rename = "output")]
    pub outputs: Vec<OutputTerms>,
    /// Privacy terms.
    pub privacy: PrivacyToml,
    /// Who may start runs (default: every party, no daily cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<RunsToml>,
}

/// Run terms as authored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunsToml {
    /// Parties that may start runs (default: every party).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requesters: Option<Vec<String>>,
    /// At most this many runs in any 24 hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_runs_per_day: Option<u32>,
}

/// A time written either as a TOML date-time or an RFC 3339 string.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TomlTime {
    /// `valid_from = 2026-11-01T00:00:00Z`
    Native(toml::value::Datetime),
    /// `valid_from = "2026-11-01T00:00:00Z"`
    Text(String),
}

/// A party as authored: the fields of its card.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartyToml {
    /// The party's name, unique within the agreement.
    pub name: String,
    /// Ed25519 public key, base64.
    pub signing_key: String,
    /// X25519 public key, base64; required for owners and readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpke_key: Option<String>,
    /// Key broker URL; required for owners.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_url: Option<String>,
}

/// A dataset as authored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetToml {
    /// Owning party.
    pub owner: String,
    /// Dataset name.
    pub name: String,
    /// The column identifying a person.
    pub person_column: String,
    /// Columns in file order.
    pub columns: Vec<Column>,
}

/// The program as authored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramToml {
    /// Built-in program id.
    pub id: String,
    /// The program's version, as agreements name it.
    pub version: u32,
    /// The program's parameters, checked by the program itself.
    #[serde(default)]
    pub params: toml::Table,
}

/// A runtime as authored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeToml {
    /// Platform name.
    pub platform: Platform,
    /// Simulator: hex measurements of the isolate executable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<String>,
    /// Hardware: accepted sets of registers (hex strings; numbers as integers or strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<BTreeMap<String, toml::Value>>,
    /// TDX and SGX: TCB statuses accepted besides `UpToDate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_tcb_status: Vec<TcbStatus>,
    /// SEV-SNP: minimum security version per TCB component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_tcb: BTreeMap<String, u64>,
}

impl RuntimeToml {
    /// A simulator runtime accepting these measurements.
    pub fn sim(measurements: Vec<String>) -> Self {
        Self {
            platform: Platform::Sim,
            measurements,
            accept: Vec::new(),
            accept_tcb_status: Vec::new(),
            min_tcb: BTreeMap::new(),
        }
    }
}

/// Privacy terms as authored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyToml {
    /// ε per run.
    pub epsilon_per_run: f64,
    /// δ per run.
    pub delta_per_run: f64,
    /// Total ε per dataset.
    pub total_epsilon_per_dataset: f64,
    /// L0 contribution bound.
    pub max_groups_per_person: i64,
    /// Rows per person per group (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_per_person_per_group: Option<i64>,
    /// Rows per person in total (default: groups × rows per group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_per_person: Option<i64>,
    /// Minimum noisy value of a released undeclared group (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_aggregation: Option<i64>,
    /// Noise mechanism; defaults to discrete Laplace.
    #[serde(default = "default_noise")]
    pub noise: NoiseMechanism,
}

fn default_noise() -> NoiseMechanism {
    NoiseMechanism::DiscreteLaplace
}

impl AgreementToml {
    /// The agreement as TOML that [`compile`] reads back, written by `toml` so that every value
    /// is escaped. The one way sealroom writes agreement TOML (the demo and the tests).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an authored agreement serializes to TOML")
    }
}

impl PartyToml {
    /// The block for `card`.
    pub fn from_card(card: &PartyCard) -> Self {
        Self {
            name: card.name.clone(),
            signing_key: bytes::encode(&card.signing_key.0),
            hpke_key: (card.hpke_key != NO_HPKE_KEY).then(|| bytes::encode(&card.hpke_key.0)),
            broker_url: card.broker_url.clone(),
        }
    }
}

/// The `[[party]]` block of an agreement for `card`, ready to paste (written by `toml`, so every
/// value is escaped).
pub fn party_block(card: &PartyCard) -> String {
    #[derive(Serialize)]
    struct Block {
        party: [PartyToml; 1],
    }
    toml::to_string(&Block {
        party: [PartyToml::from_card(card)],
    })
    .expect("a party block serializes")
}

/// Parses agreement TOML and validates it (structural rules in `sealroom-core`, the program's
/// parameters by `catalog`).
pub fn compile(text: &str, catalog: &dyn ProgramCatalog) -> Result<Agreement, AgreementError> {
    let raw: AgreementToml =
        toml::from_str(text).map_err(|e| AgreementError::Syntax(e.to_string()))?;
    if raw.format != AGREEMENT_FORMAT {
        return Err(AgreementError::UnsupportedFormat { found: raw.format });
    }
    let parties = raw
        .parties
        .iter()
        .map(party_card)
        .collect::<Result<Vec<_>, _>>()?;
    let runs = raw.runs.unwrap_or(RunsToml {
        requesters: None,
        max_runs_per_day: None,
    });
    let fields = AgreementFields {
        format: raw.format,
        name: raw.name,
        valid_from: read_time("valid_from", &raw.valid_from)?,
        valid_until: read_time("valid_until", &raw.valid_until)?,
        runs: RunTerms {
            requesters: runs
                .requesters
                .unwrap_or_else(|| parties.iter().map(|p| p.name.clone()).collect()),
            max_runs_per_day: runs.max_runs_per_day,
        },
        parties,
        datasets: raw
            .datasets
            .into_iter()
            .map(|d| DatasetTerms {
                owner: d.owner,
                name: d.name,
                schema: Schema {
                    columns: d.columns,
                    person_column: d.person_column,
                },
            })
            .collect(),
        program: ProgramTerms {
            params: serde_json::to_value(&raw.program.params).map_err(|e| {
                AgreementError::BadProgramParameters {
                    program: raw.program.id.clone(),
                    reason: e.to_string(),
                }
            })?,
            id: raw.program.id,
            version: raw.program.version,
        },
        runtimes: raw
            .runtimes
            .into_iter()
            .map(runtime)
            .collect::<Result<_, _>>()?,
        outputs: raw.outputs,
        privacy: privacy(&raw.privacy)?,
    };
    let agreement = Agreement::new(fields)?;
    agreement.check_program(catalog)?;
    Ok(agreement)
}

fn read_time(field: &'static str, time: &TomlTime) -> Result<Timestamp, AgreementError> {
    let text = match time {
        TomlTime::Native(dt) => dt.to_string(),
        TomlTime::Text(s) => s.clone(),
    };
    Timestamp::parse(&text).map_err(|reason| AgreementError::BadTime { field, reason })
}

fn read_key(party: &str, which: &'static str, text: &str) -> Result<[u8; 32], AgreementError> {
    bytes::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| AgreementError::BadKey {
            party: party.into(),
            which,
        })
}

/// A party's card from its TOML block (a party without `hpke_key` gets [`NO_HPKE_KEY`]).
fn party_card(p: &PartyToml) -> Result<PartyCard, AgreementError> {
    Ok(PartyCard {
        format: PARTY_CARD_FORMAT.into(),
        name: p.name.clone(),
        signing_key: SigningPublicKey(read_key(&p.name, "signing_key", &p.signing_key)?),
        hpke_key: match &p.hpke_key {
            Some(text) => HpkePublicKey(read_key(&p.name, "hpke_key", text)?),
            None => NO_HPKE_KEY,
        },
        broker_url: p.broker_url.clone(),
    })
}

fn runtime(r: RuntimeToml) -> Result<RuntimeTerms, AgreementError> {
    let measurements = r
        .measurements
        .iter()
        .map(|m| m.trim().parse::<Measurement>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AgreementError::BadRuntime {
            platform: r.platform.name().to_string(),
            reason: e.to_string(),
        })?;
    let accept = r
        .accept
        .iter()
        .map(|set| {
            set.iter()
                .map(|(name, value)| {
                    let text = match value {
                        toml::Value::String(s) => s.trim().to_ascii_lowercase(),
                        toml::Value::Integer(i) => i.to_string(),
                        other => {
                            return Err(AgreementError::BadRuntime {
                                platform: r.platform.name().to_string(),
                                reason: format!(
                                    "{name} must be a hex string or a whole number, not {other}"
                                ),
                            });
                        }
                    };
                    Ok((name.clone(), text))
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RuntimeTerms {
        platform: r.platform,
        measurements,
        accept,
        accept_tcb_status: r.accept_tcb_status,
        min_tcb: r.min_tcb,
    })
}

/// The privacy terms with their defaults; ranges are checked by `sealroom-core`.
fn privacy(raw: &PrivacyToml) -> Result<PrivacyTerms, AgreementError> {
    let epsilon = |field: &'static str, value: f64| {
        Epsilon::from_f64(value).map_err(|source| AgreementError::BadEpsilon { field, source })
    };
    let max_groups_per_person = u32::try_from(raw.max_groups_per_person)
        .map_err(|_| AgreementError::BadContributionBound)?;
    let count = |field: &'static str, value: i64| {
        u32::try_from(value).map_err(|_| AgreementError::BadPrivacyTerm {
            field,
            reason: format!("must be a whole number from 1 to {}, not {value}", u32::MAX),
        })
    };
    let per_group = count(
        "max_rows_per_person_per_group",
        raw.max_rows_per_person_per_group.unwrap_or(1),
    )?;
    let default_total = i64::from(max_groups_per_person) * i64::from(per_group);
    Ok(PrivacyTerms {
        epsilon_per_run: epsilon("epsilon_per_run", raw.epsilon_per_run)?,
        delta_per_run: raw.delta_per_run,
        total_epsilon_per_dataset: epsilon(
            "total_epsilon_per_dataset",
            raw.total_epsilon_per_dataset,
        )?,
        max_groups_per_person,
        max_rows_per_person_per_group: per_group,
        max_rows_per_person: count(
            "max_rows_per_person",
            raw.max_rows_per_person
                .unwrap_or(default_total.min(i64::from(u32::MAX))),
        )?,
        min_aggregation: u64::try_from(raw.min_aggregation.unwrap_or(0)).map_err(|_| {
            AgreementError::BadPrivacyTerm {
                field: "min_aggregation",
                reason: "must not be negative".into(),
            }
        })?,
        noise: raw.noise,
    })
}

#[cfg(test)]
mod tests;
