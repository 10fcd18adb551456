//! An agreement between the demo's two parties for one program of a truth file.

use sealroom_core::agreement::{AGREEMENT_FORMAT, NoiseMechanism, OutputTerms};
use sealroom_core::ids::Measurement;
use sealroom_crypto::Identity;
use sealroom_party::authoring::{
    AgreementToml, DatasetToml, PartyToml, PrivacyToml, ProgramToml, RuntimeToml, TomlTime,
};

use super::truth::datasets;

/// Which party holds which generated dataset: `(owner, dataset name, truth-file name)`, the
/// first owned by `adplatform`, the second by `advertiser`.
pub type Holdings<'a> = [(&'a str, &'a str, &'a str); 2];

/// The datasets each program of a truth file reads, held by the two parties.
pub fn holdings(program: &str) -> Holdings<'static> {
    match program {
        "attribution" => [
            ("adplatform", "touches", "platform/touches"),
            ("advertiser", "conversions", "advertiser/conversions"),
        ],
        "lift" => [
            ("adplatform", "study", "platform/study"),
            ("advertiser", "conversions", "advertiser/conversions"),
        ],
        _ => [
            ("adplatform", "exposures", "publisher1/exposures"),
            ("advertiser", "exposures", "publisher2/exposures"),
        ],
    }
}

/// The generated file holding a dataset of the truth file (`platform/touches` → `touches`,
/// `publisher2/exposures` → `exposures_2`).
pub fn file_stem(source: &str) -> String {
    match source.split_once('/') {
        Some((publisher, "exposures")) => {
            format!("exposures_{}", publisher.trim_start_matches("publisher"))
        }
        Some((_, name)) => name.to_string(),
        None => source.to_string(),
    }
}

/// The agreement TOML for `program` of `truth` between `ad` and `shop`, the advertiser reading
/// every output, with `noise` and ε = 1 per run.
pub fn agreement_toml(
    truth: &serde_json::Value,
    program: &str,
    noise: NoiseMechanism,
    ad: &Identity,
    shop: &Identity,
    measurement: &Measurement,
) -> anyhow::Result<String> {
    room_toml(
        truth,
        program,
        noise,
        &Room {
            parties: &[ad, shop],
            holdings: &holdings(program),
            reader: shop.name(),
        },
        measurement,
    )
}

/// Who takes part in an agreement over generated data.
pub struct Room<'a> {
    /// Every party, in the order the agreement lists them.
    pub parties: &'a [&'a Identity],
    /// Which party holds which generated dataset: `(owner, dataset name, truth-file name)`.
    pub holdings: &'a [(&'a str, &'a str, &'a str)],
    /// The party that reads every output.
    pub reader: &'a str,
}

/// The agreement TOML for `program` of `truth` among `room`'s parties, with `noise` and ε = 1
/// per run.
pub fn room_toml(
    truth: &serde_json::Value,
    program: &str,
    noise: NoiseMechanism,
    room: &Room<'_>,
    measurement: &Measurement,
) -> anyhow::Result<String> {
    let mut params = truth[program]["params"].to_string();
    for (owner, name, source) in room.holdings {
        params = params.replace(&format!("\"{source}\""), &format!("\"{owner}/{name}\""));
    }
    let params: toml::Table = serde_json::from_str(&params)?;
    let publishers = room
        .holdings
        .iter()
        .filter(|(_, _, source)| source.ends_with("/exposures"))
        .count()
        .max(2) as u32;
    let schemas = datasets(publishers);
    let datasets = room
        .holdings
        .iter()
        .map(|(owner, name, source)| {
            let terms = schemas
                .iter()
                .find(|d| d.qualified_name() == *source)
                .ok_or_else(|| anyhow::anyhow!("no generated dataset {source}"))?;
            Ok(DatasetToml {
                owner: (*owner).into(),
                name: (*name).into(),
                person_column: terms.schema.person_column.clone(),
                columns: terms.schema.columns.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let outputs = truth[program]["tables"]
        .as_array()
        .map(|tables| {
            tables
                .iter()
                .filter_map(|t| t["output"].as_str())
                .map(|o| OutputTerms {
                    name: o.into(),
                    readers: vec![room.reader.into()],
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AgreementToml {
        format: AGREEMENT_FORMAT.into(),
        name: format!("synthetic {program}"),
        valid_from: TomlTime::Text("2026-01-01T00:00:00Z".into()),
        valid_until: TomlTime::Text("2036-01-01T00:00:00Z".into()),
        parties: room
            .parties
            .iter()
            .map(|p| PartyToml::from_card(&p.card()))
            .collect(),
        datasets,
        program: ProgramToml {
            id: program.into(),
            version: 1,
            params,
        },
        runtimes: vec![RuntimeToml::sim(vec![measurement.to_string()])],
        outputs,
        privacy: PrivacyToml {
            epsilon_per_run: 1.0,
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: 100.0,
            max_groups_per_person: 1,
            max_rows_per_person_per_group: None,
            max_rows_per_person: None,
            min_aggregation: None,
            noise,
        },
        runs: None,
    }
    .to_toml())
}
