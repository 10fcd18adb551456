//! The structural rules of an agreement, in one place: every `Agreement` that exists passed them,
//! whether it was compiled from TOML, read from signed JSON by any service, or built in code
//! through [`Agreement::new`].

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::{
    AGREEMENT_FORMAT, Agreement, AgreementError, DatasetTerms, OutputTerms, PrivacyTerms,
    ProgramCatalog, ProgramTerms, RunTerms, RuntimeTerms,
};
use crate::attestation::Platform;
use crate::clock::Timestamp;
use crate::party::{HpkePublicKey, PartyCard, check_broker_url, is_valid_name};
use crate::schema::ColumnType;

/// The fields of an agreement before its rules are checked: what authoring tools build and what
/// deserialization reads. Turn it into an [`Agreement`] with [`Agreement::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementFields {
    /// Must be [`AGREEMENT_FORMAT`].
    pub format: String,
    /// A human-readable name.
    pub name: String,
    /// Start of the validity window (inclusive).
    pub valid_from: Timestamp,
    /// End of the validity window (exclusive).
    pub valid_until: Timestamp,
    /// Every party, with its full public card.
    pub parties: Vec<PartyCard>,
    /// Datasets and their schemas.
    pub datasets: Vec<DatasetTerms>,
    /// The one program that may run.
    pub program: ProgramTerms,
    /// Accepted runtimes per platform.
    pub runtimes: Vec<RuntimeTerms>,
    /// Outputs and their readers.
    pub outputs: Vec<OutputTerms>,
    /// Privacy terms.
    pub privacy: PrivacyTerms,
    /// Who may start runs.
    pub runs: RunTerms,
}

/// An all-zero HPKE key marks a party that neither owns data nor reads results.
pub const NO_HPKE_KEY: HpkePublicKey = HpkePublicKey([0; 32]);

impl TryFrom<AgreementFields> for Agreement {
    type Error = AgreementError;

    fn try_from(f: AgreementFields) -> Result<Self, AgreementError> {
        if f.format != AGREEMENT_FORMAT {
            return Err(AgreementError::UnsupportedFormat { found: f.format });
        }
        if f.valid_from >= f.valid_until {
            return Err(AgreementError::EmptyValidityWindow {
                valid_from: f.valid_from,
                valid_until: f.valid_until,
            });
        }
        check_parties(&f.parties, &f.datasets, &f.outputs)?;
        check_datasets(&f.datasets, &f.parties)?;
        check_runtimes(&f.runtimes)?;
        check_outputs(&f.outputs, &f.parties)?;
        check_privacy(&f.privacy)?;
        check_runs(&f.runs, &f.parties)?;
        Ok(Agreement(f))
    }
}

impl<'de> Deserialize<'de> for Agreement {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Agreement::try_from(AgreementFields::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Agreement {
    /// An agreement from its fields, if they follow every structural rule.
    pub fn new(fields: AgreementFields) -> Result<Self, AgreementError> {
        Self::try_from(fields)
    }

    /// Checks the program and its parameters with the program's own code (`catalog`), and that
    /// the outputs listed are exactly those the program produces. Every entry point that accepts
    /// an agreement calls this after the structural rules.
    pub fn check_program(&self, catalog: &dyn ProgramCatalog) -> Result<(), AgreementError> {
        let produced = catalog
            .check_program(&self.program, &self.datasets)
            .map_err(|e| e.into_agreement_error(&self.program.id))?;
        for o in &self.outputs {
            if !produced.contains(&o.name) {
                return Err(AgreementError::BadOutput {
                    output: o.name.clone(),
                    reason: format!("the program produces only {}", produced.join(", ")),
                });
            }
        }
        for name in &produced {
            if !self.outputs.iter().any(|o| &o.name == name) {
                return Err(AgreementError::BadOutput {
                    output: name.clone(),
                    reason: "the program produces it but no [[output]] names its readers".into(),
                });
            }
        }
        Ok(())
    }
}

fn check_parties(
    parties: &[PartyCard],
    datasets: &[DatasetTerms],
    outputs: &[OutputTerms],
) -> Result<(), AgreementError> {
    if parties.is_empty() {
        return Err(AgreementError::NoParties);
    }
    let owners: HashSet<&str> = datasets.iter().map(|d| d.owner.as_str()).collect();
    let readers: HashSet<&str> = outputs
        .iter()
        .flat_map(|o| o.readers.iter().map(String::as_str))
        .collect();
    for (i, p) in parties.iter().enumerate() {
        if !is_valid_name(&p.name) {
            return Err(AgreementError::BadName {
                what: "party",
                name: p.name.clone(),
            });
        }
        if parties[..i].iter().any(|q| q.name == p.name) {
            return Err(AgreementError::DuplicateParty {
                party: p.name.clone(),
            });
        }
        if let Some(other) = parties[..i].iter().find(|q| q.signing_key == p.signing_key) {
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
        if let Some(role) = role
            && p.hpke_key == NO_HPKE_KEY
        {
            return Err(AgreementError::MissingHpkeKey {
                party: p.name.clone(),
                role,
            });
        }
        if let Some(url) = &p.broker_url {
            check_broker_url(url).map_err(|e| AgreementError::BadBrokerUrl {
                party: p.name.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(())
}

fn check_datasets(datasets: &[DatasetTerms], parties: &[PartyCard]) -> Result<(), AgreementError> {
    if datasets.is_empty() {
        return Err(AgreementError::NoDatasets);
    }
    for (i, d) in datasets.iter().enumerate() {
        let qualified = d.qualified_name();
        if !is_valid_name(&d.name) {
            return Err(AgreementError::BadName {
                what: "dataset",
                name: d.name.clone(),
            });
        }
        let Some(owner) = parties.iter().find(|p| p.name == d.owner) else {
            return Err(AgreementError::DatasetOwnerNotAParty {
                dataset: d.name.clone(),
                owner: d.owner.clone(),
            });
        };
        if owner.broker_url.as_deref().unwrap_or("").is_empty() {
            return Err(AgreementError::OwnerWithoutBroker {
                party: d.owner.clone(),
                dataset: d.name.clone(),
            });
        }
        if datasets[..i]
            .iter()
            .any(|x| x.owner == d.owner && x.name == d.name)
        {
            return Err(AgreementError::DuplicateDataset { dataset: qualified });
        }
        if d.schema.columns.is_empty() {
            return Err(AgreementError::NoColumns { dataset: qualified });
        }
        let mut seen = BTreeSet::new();
        for c in &d.schema.columns {
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
            if let Some(reason) = c.problem() {
                return Err(AgreementError::BadColumn {
                    dataset: qualified,
                    column: c.name.clone(),
                    reason,
                });
            }
        }
        let Some(person) = d.schema.column(&d.schema.person_column) else {
            return Err(AgreementError::MissingPersonColumn {
                dataset: qualified,
                column: d.schema.person_column.clone(),
            });
        };
        let person_problem = if !matches!(person.kind, ColumnType::String | ColumnType::Integer) {
            Some("must be a string or integer column")
        } else if person.optional {
            Some("cannot be optional: every row belongs to a person")
        } else {
            None
        };
        if let Some(reason) = person_problem {
            return Err(AgreementError::BadPersonColumn {
                dataset: qualified,
                column: person.name.clone(),
                reason,
            });
        }
    }
    Ok(())
}

fn check_runtimes(runtimes: &[RuntimeTerms]) -> Result<(), AgreementError> {
    if runtimes.is_empty() {
        return Err(AgreementError::NoRuntimes);
    }
    for (i, r) in runtimes.iter().enumerate() {
        let platform = r.platform.name().to_string();
        if runtimes[..i].iter().any(|x| x.platform == r.platform) {
            return Err(AgreementError::BadRuntime {
                platform,
                reason: "listed twice; merge the measurements".into(),
            });
        }
        let bad = |reason: String| AgreementError::BadRuntime {
            platform: platform.clone(),
            reason,
        };
        if r.platform == Platform::Sim {
            if r.measurements.is_empty() {
                return Err(bad("no measurements are accepted".into()));
            }
            if !r.accept.is_empty() || !r.accept_tcb_status.is_empty() || !r.min_tcb.is_empty() {
                return Err(bad(
                    "the simulator accepts measurements only (no registers or TCB policy)".into(),
                ));
            }
            continue;
        }
        if !r.measurements.is_empty() {
            return Err(bad(
                "hardware runtimes are named by their registers in `accept`, not by `measurements`"
                    .into(),
            ));
        }
        if r.accept.is_empty() {
            return Err(bad(
                "no runtime is accepted: add an `accept` set of registers".into(),
            ));
        }
        for fields in &r.accept {
            crate::runtime::check_accepted(r.platform, fields).map_err(bad)?;
        }
        crate::runtime::check_apart(r.platform, &r.accept).map_err(bad)?;
        if !r.accept_tcb_status.is_empty() && !matches!(r.platform, Platform::Tdx | Platform::Sgx) {
            return Err(bad(format!(
                "{} reports no TCB status for accept_tcb_status to name",
                r.platform
            )));
        }
        crate::runtime::check_minimums(r.platform, &r.min_tcb).map_err(bad)?;
    }
    Ok(())
}

fn check_outputs(outputs: &[OutputTerms], parties: &[PartyCard]) -> Result<(), AgreementError> {
    for (i, o) in outputs.iter().enumerate() {
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
    Ok(())
}

fn check_privacy(p: &PrivacyTerms) -> Result<(), AgreementError> {
    if p.total_epsilon_per_dataset < p.epsilon_per_run {
        return Err(AgreementError::BudgetBelowOneRun {
            total: p.total_epsilon_per_dataset.to_string(),
            per_run: p.epsilon_per_run.to_string(),
        });
    }
    let delta = p.delta_per_run;
    if !(delta.is_finite() && delta > 0.0 && delta < 1.0) {
        return Err(AgreementError::BadDelta { value: delta });
    }
    if p.max_groups_per_person == 0 {
        return Err(AgreementError::BadContributionBound);
    }
    for (field, value) in [
        (
            "max_rows_per_person_per_group",
            p.max_rows_per_person_per_group,
        ),
        ("max_rows_per_person", p.max_rows_per_person),
    ] {
        if value == 0 {
            return Err(AgreementError::BadPrivacyTerm {
                field,
                reason: format!("must be a whole number from 1 to {}, not 0", u32::MAX),
            });
        }
    }
    if p.max_rows_per_person_per_group > p.max_rows_per_person {
        return Err(AgreementError::BadPrivacyTerm {
            field: "max_rows_per_person_per_group",
            reason: format!(
                "{} rows per group is more than the {} rows a person may contribute in total",
                p.max_rows_per_person_per_group, p.max_rows_per_person
            ),
        });
    }
    Ok(())
}

fn check_runs(runs: &RunTerms, parties: &[PartyCard]) -> Result<(), AgreementError> {
    if runs.requesters.is_empty() || runs.max_runs_per_day == Some(0) {
        return Err(AgreementError::NoRequesters);
    }
    for name in &runs.requesters {
        if !parties.iter().any(|p| &p.name == name) {
            return Err(AgreementError::UnknownParty {
                party: name.clone(),
                context: "runs.requesters".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
