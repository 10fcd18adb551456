//! The TOML form in which people write agreements, and its validation into the canonical
//! [`Agreement`]. It lives here, not in `sealroom-core`, so that the isolate never carries a TOML parser.

use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;

use sealroom_core::agreement::{
    AGREEMENT_FORMAT, Agreement, AgreementError, DatasetTerms, NoiseMechanism, OutputTerms,
    PrivacyTerms, ProgramCatalog, ProgramTerms, RunTerms, RuntimeTerms,
};
use sealroom_core::attestation::Platform;
use sealroom_core::bytes;
use sealroom_core::clock::Timestamp;
use sealroom_core::epsilon::Epsilon;
use sealroom_core::ids::Measurement;
use sealroom_core::party::{
    HpkePublicKey, PARTY_CARD_FORMAT, PartyCard, SigningPublicKey, check_broker_url, is_valid_name,
};
use sealroom_core::schema::{Column, Schema};

/// The agreement as authored in TOML.
#[derive(Debug, Deserialize)]
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
    /// Parties.
    #[serde(default, rename = "party")]
    pub parties: Vec<PartyToml>,
    /// Datasets.
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<DatasetToml>,
    /// The program.
    pub program: ProgramToml,
    /// Accepted runtimes.
    #[serde(default, rename = "runtime")]
    pub runtimes: Vec<RuntimeToml>,
    /// Outputs.
    #[serde(default, rename = "output")]
    pub outputs: Vec<OutputTerms>,
    /// Privacy terms.
    pub privacy: PrivacyToml,
    /// Who may start runs (default: every party, no daily cap).
    #[serde(default)]
    pub runs: Option<RunsToml>,
}

/// Run terms as authored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsToml {
    /// Parties that may start runs (default: every party).
    pub requesters: Option<Vec<String>>,
    /// At most this many runs in any 24 hours.
    pub max_runs_per_day: Option<u32>,
}

/// A time written either as a TOML date-time or an RFC 3339 string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TomlTime {
    /// `valid_from = 2026-11-01T00:00:00Z`
    Native(toml::value::Datetime),
    /// `valid_from = "2026-11-01T00:00:00Z"`
    Text(String),
}

/// A party as authored: the fields of its card.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyToml {
    /// Name.
    pub name: String,
    /// Ed25519 public key, base64.
    pub signing_key: String,
    /// X25519 public key, base64; required for owners and readers.
    pub hpke_key: Option<String>,
    /// Key broker URL; required for owners.
    pub broker_url: Option<String>,
}

/// A dataset as authored.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramToml {
    /// Built-in program id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Parameters.
    #[serde(default)]
    pub params: toml::Table,
}

/// A runtime as authored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeToml {
    /// Platform name.
    pub platform: Platform,
    /// Hex measurements.
    pub measurements: Vec<String>,
}

/// Privacy terms as authored.
#[derive(Debug, Deserialize)]
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
    #[serde(default)]
    pub max_rows_per_person_per_group: Option<i64>,
    /// Rows per person in total (default: groups × rows per group).
    #[serde(default)]
    pub max_rows_per_person: Option<i64>,
    /// Minimum noisy value of a released undeclared group (default 0).
    #[serde(default)]
    pub min_aggregation: Option<i64>,
    /// Noise mechanism; defaults to discrete Laplace.
    #[serde(default = "default_noise")]
    pub noise: NoiseMechanism,
}

fn default_noise() -> NoiseMechanism {
    NoiseMechanism::DiscreteLaplace
}

/// The `[[party]]` block of an agreement for `card`, ready to paste.
pub fn party_block(card: &PartyCard) -> String {
    let mut block = format!(
        "[[party]]\nname = \"{}\"\nsigning_key = \"{}\"\nhpke_key = \"{}\"\n",
        card.name,
        bytes::encode(&card.signing_key.0),
        bytes::encode(&card.hpke_key.0)
    );
    if let Some(url) = &card.broker_url {
        block.push_str(&format!("broker_url = \"{url}\"\n"));
    }
    block
}

/// Parses and validates agreement TOML against the programs `catalog` knows.
pub fn compile(text: &str, catalog: &dyn ProgramCatalog) -> Result<Agreement, AgreementError> {
    let raw: AgreementToml =
        toml::from_str(text).map_err(|e| AgreementError::Syntax(e.to_string()))?;
    if raw.format != AGREEMENT_FORMAT {
        return Err(AgreementError::UnsupportedFormat { found: raw.format });
    }
    let valid_from = read_time("valid_from", &raw.valid_from)?;
    let valid_until = read_time("valid_until", &raw.valid_until)?;
    if valid_from >= valid_until {
        return Err(AgreementError::EmptyValidityWindow {
            valid_from,
            valid_until,
        });
    }
    let readers: HashSet<&str> = raw
        .outputs
        .iter()
        .flat_map(|o| o.readers.iter().map(String::as_str))
        .collect();
    let owners: HashSet<&str> = raw.datasets.iter().map(|d| d.owner.as_str()).collect();
    let parties = compile_parties(&raw.parties, &readers, &owners)?;
    let datasets = compile_datasets(raw.datasets, &parties)?;
    let program = ProgramTerms {
        id: raw.program.id,
        version: raw.program.version,
        params: serde_json::to_value(&raw.program.params).map_err(|e| {
            AgreementError::BadProgramParameters {
                program: "?".into(),
                reason: e.to_string(),
            }
        })?,
    };
    let output_names = catalog
        .check_program(&program, &datasets)
        .map_err(|e| e.into_agreement_error(&program.id))?;
    let runtimes = compile_runtimes(raw.runtimes)?;
    check_outputs(&raw.outputs, &output_names, &parties)?;
    let privacy = compile_privacy(&raw.privacy)?;
    let runs = compile_runs(raw.runs, &parties)?;
    Ok(Agreement {
        format: AGREEMENT_FORMAT.into(),
        name: raw.name,
        valid_from,
        valid_until,
        parties,
        datasets,
        program,
        runtimes,
        outputs: raw.outputs,
        privacy,
        runs,
    })
}

fn compile_runs(raw: Option<RunsToml>, parties: &[PartyCard]) -> Result<RunTerms, AgreementError> {
    let raw = raw.unwrap_or(RunsToml {
        requesters: None,
        max_runs_per_day: None,
    });
    let requesters = match raw.requesters {
        None => parties.iter().map(|p| p.name.clone()).collect(),
        Some(names) => {
            for name in &names {
                if !parties.iter().any(|p| &p.name == name) {
                    return Err(AgreementError::UnknownParty {
                        party: name.clone(),
                        context: "runs.requesters".into(),
                    });
                }
            }
            if names.is_empty() {
                return Err(AgreementError::NoRequesters);
            }
            names
        }
    };
    if raw.max_runs_per_day == Some(0) {
        return Err(AgreementError::NoRequesters);
    }
    Ok(RunTerms {
        requesters,
        max_runs_per_day: raw.max_runs_per_day,
    })
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

fn compile_parties(
    raw: &[PartyToml],
    readers: &HashSet<&str>,
    owners: &HashSet<&str>,
) -> Result<Vec<PartyCard>, AgreementError> {
    if raw.is_empty() {
        return Err(AgreementError::NoParties);
    }
    let mut cards: Vec<PartyCard> = Vec::with_capacity(raw.len());
    for p in raw {
        if !is_valid_name(&p.name) {
            return Err(AgreementError::BadName {
                what: "party",
                name: p.name.clone(),
            });
        }
        if cards.iter().any(|c| c.name == p.name) {
            return Err(AgreementError::DuplicateParty {
                party: p.name.clone(),
            });
        }
        let signing_key = SigningPublicKey(read_key(&p.name, "signing_key", &p.signing_key)?);
        if let Some(other) = cards.iter().find(|c| c.signing_key == signing_key) {
            return Err(AgreementError::SharedSigningKey {
                first: other.name.clone(),
                second: p.name.clone(),
            });
        }
        let role = if owners.contains(p.name.as_str()) {
            Some("data owner")
        } else if readers.contains(p.name.as_str()) {
            Some("result reader")
        } else {
            None
        };
        let hpke_key = match (&p.hpke_key, role) {
            (Some(text), _) => HpkePublicKey(read_key(&p.name, "hpke_key", text)?),
            (None, Some(role)) => {
                return Err(AgreementError::MissingHpkeKey {
                    party: p.name.clone(),
                    role,
                });
            }
            // A party that neither owns nor reads still signs; an all-zero key marks "none".
            (None, None) => HpkePublicKey([0; 32]),
        };
        if let Some(url) = &p.broker_url {
            check_broker_url(url).map_err(|e| AgreementError::BadBrokerUrl {
                party: p.name.clone(),
                reason: e.to_string(),
            })?;
        }
        cards.push(PartyCard {
            format: PARTY_CARD_FORMAT.into(),
            name: p.name.clone(),
            signing_key,
            hpke_key,
            broker_url: p.broker_url.clone(),
        });
    }
    Ok(cards)
}

fn compile_datasets(
    raw: Vec<DatasetToml>,
    parties: &[PartyCard],
) -> Result<Vec<DatasetTerms>, AgreementError> {
    if raw.is_empty() {
        return Err(AgreementError::NoDatasets);
    }
    let mut out: Vec<DatasetTerms> = Vec::with_capacity(raw.len());
    for d in raw {
        let qualified = format!("{}/{}", d.owner, d.name);
        if !is_valid_name(&d.name) {
            return Err(AgreementError::BadName {
                what: "dataset",
                name: d.name,
            });
        }
        let Some(owner) = parties.iter().find(|p| p.name == d.owner) else {
            return Err(AgreementError::DatasetOwnerNotAParty {
                dataset: d.name,
                owner: d.owner,
            });
        };
        if owner.broker_url.as_deref().unwrap_or("").is_empty() {
            return Err(AgreementError::OwnerWithoutBroker {
                party: d.owner,
                dataset: d.name,
            });
        }
        if out.iter().any(|x| x.owner == d.owner && x.name == d.name) {
            return Err(AgreementError::DuplicateDataset { dataset: qualified });
        }
        if d.columns.is_empty() {
            return Err(AgreementError::NoColumns { dataset: qualified });
        }
        let mut seen = BTreeSet::new();
        for c in &d.columns {
            if !is_valid_name(&c.name) {
                return Err(AgreementError::BadName {
                    what: "column",
                    name: c.name.clone(),
                });
            }
            if !seen.insert(c.name.as_str()) {
                return Err(AgreementError::DuplicateColumn {
                    dataset: qualified,
                    column: c.name.clone(),
                });
            }
        }
        if !seen.contains(d.person_column.as_str()) {
            return Err(AgreementError::MissingPersonColumn {
                dataset: qualified,
                column: d.person_column,
            });
        }
        out.push(DatasetTerms {
            owner: d.owner,
            name: d.name,
            schema: Schema {
                columns: d.columns,
                person_column: d.person_column,
            },
        });
    }
    Ok(out)
}

fn compile_runtimes(raw: Vec<RuntimeToml>) -> Result<Vec<RuntimeTerms>, AgreementError> {
    if raw.is_empty() {
        return Err(AgreementError::NoRuntimes);
    }
    let mut out: Vec<RuntimeTerms> = Vec::with_capacity(raw.len());
    for r in raw {
        let platform = r.platform.name().to_string();
        if out.iter().any(|x| x.platform == r.platform) {
            return Err(AgreementError::BadRuntime {
                platform,
                reason: "listed twice; merge the measurements".into(),
            });
        }
        if r.measurements.is_empty() {
            return Err(AgreementError::BadRuntime {
                platform,
                reason: "no measurements are accepted".into(),
            });
        }
        let measurements = r
            .measurements
            .iter()
            .map(|m| m.trim().parse::<Measurement>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AgreementError::BadRuntime {
                platform,
                reason: e.to_string(),
            })?;
        out.push(RuntimeTerms {
            platform: r.platform,
            measurements,
        });
    }
    Ok(out)
}

fn check_outputs(
    outputs: &[OutputTerms],
    produced: &[String],
    parties: &[PartyCard],
) -> Result<(), AgreementError> {
    for (i, o) in outputs.iter().enumerate() {
        if !produced.contains(&o.name) {
            return Err(AgreementError::BadOutput {
                output: o.name.clone(),
                reason: format!("the program produces only {}", produced.join(", ")),
            });
        }
        if outputs[..i].iter().any(|x| x.name == o.name) {
            return Err(AgreementError::BadOutput {
                output: o.name.clone(),
                reason: "listed twice".into(),
            });
        }
        if o.readers.is_empty() {
            return Err(AgreementError::BadOutput {
                output: o.name.clone(),
                reason: "names no readers".into(),
            });
        }
        for r in &o.readers {
            if !parties.iter().any(|p| &p.name == r) {
                return Err(AgreementError::UnknownParty {
                    party: r.clone(),
                    context: format!("output {:?}", o.name),
                });
            }
        }
    }
    for name in produced {
        if !outputs.iter().any(|o| &o.name == name) {
            return Err(AgreementError::BadOutput {
                output: name.clone(),
                reason: "the program produces it but no [[output]] names its readers".into(),
            });
        }
    }
    Ok(())
}

fn compile_privacy(raw: &PrivacyToml) -> Result<PrivacyTerms, AgreementError> {
    let epsilon_per_run =
        Epsilon::from_f64(raw.epsilon_per_run).map_err(|source| AgreementError::BadEpsilon {
            field: "epsilon_per_run",
            source,
        })?;
    let total = Epsilon::from_f64(raw.total_epsilon_per_dataset).map_err(|source| {
        AgreementError::BadEpsilon {
            field: "total_epsilon_per_dataset",
            source,
        }
    })?;
    if total < epsilon_per_run {
        return Err(AgreementError::BudgetBelowOneRun {
            total: total.to_string(),
            per_run: epsilon_per_run.to_string(),
        });
    }
    let delta = raw.delta_per_run;
    if !(delta.is_finite() && delta > 0.0 && delta < 1.0) {
        return Err(AgreementError::BadDelta { value: delta });
    }
    let max_groups_per_person = u32::try_from(raw.max_groups_per_person)
        .ok()
        .filter(|&k| k >= 1)
        .ok_or(AgreementError::BadContributionBound)?;
    let positive = |field: &'static str, value: i64| {
        u32::try_from(value)
            .ok()
            .filter(|&k| k >= 1)
            .ok_or_else(|| AgreementError::BadPrivacyTerm {
                field,
                reason: format!("must be a whole number from 1 to {}, not {value}", u32::MAX),
            })
    };
    let per_group = positive(
        "max_rows_per_person_per_group",
        raw.max_rows_per_person_per_group.unwrap_or(1),
    )?;
    let default_total = i64::from(max_groups_per_person) * i64::from(per_group);
    let total_rows = positive(
        "max_rows_per_person",
        raw.max_rows_per_person
            .unwrap_or(default_total.min(i64::from(u32::MAX))),
    )?;
    if per_group > total_rows {
        return Err(AgreementError::BadPrivacyTerm {
            field: "max_rows_per_person_per_group",
            reason: format!(
                "{per_group} rows per group is more than the {total_rows} rows a person may contribute in total"
            ),
        });
    }
    let min_aggregation = u64::try_from(raw.min_aggregation.unwrap_or(0)).map_err(|_| {
        AgreementError::BadPrivacyTerm {
            field: "min_aggregation",
            reason: "must not be negative".into(),
        }
    })?;
    Ok(PrivacyTerms {
        epsilon_per_run,
        delta_per_run: delta,
        total_epsilon_per_dataset: total,
        max_groups_per_person,
        max_rows_per_person_per_group: per_group,
        max_rows_per_person: total_rows,
        min_aggregation,
        noise: raw.noise,
    })
}

#[cfg(test)]
mod tests;
