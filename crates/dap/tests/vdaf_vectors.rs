//! The official VDAF test vectors (`../shared/vectors/vdaf`, draft-irtf-cfrg-vdaf, wire-identical
//! to draft 18) for every two-aggregator Prio3 variant a DAP task can name: the VDAF built from
//! the vector's parameters through `VdafConfig` (so our parameter mapping is what is tested)
//! decodes each report's shares, reproduces every verifier share, verifier message and output
//! share byte for byte, fails exactly where the `bad_*` vectors say it must, and aggregates to
//! the vector's result.

use std::path::PathBuf;

use prio::codec::{Encode, ParameterizedDecode};
use prio::vdaf::{Aggregator, Collector, VerifyTransition};
use sealroom_dap::messages::VdafConfig;
use sealroom_dap::vdaf::Prio3Vdaf;
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    sealroom_vectors::shared(env!("CARGO_MANIFEST_DIR"), "vectors/vdaf/test_vec/vdaf")
}

fn hex(text: &Value) -> Vec<u8> {
    hex::decode(text.as_str().expect("a hex string")).expect("hex")
}

/// The vector's configuration as a DAP task would carry it.
fn config(name: &str, v: &Value) -> Option<VdafConfig> {
    let n = |key: &str| v[key].as_u64();
    let kind = name.split('_').next()?;
    Some(match kind {
        "Prio3Count" => VdafConfig::Prio3Count,
        "Prio3Sum" => VdafConfig::Prio3Sum {
            max_measurement: n("max_measurement")?,
        },
        "Prio3SumVec" => VdafConfig::Prio3SumVec {
            length: n("length")? as u32,
            max_measurement: n("max_measurement")?,
            chunk_length: n("chunk_length")? as u32,
        },
        "Prio3Histogram" => VdafConfig::Prio3Histogram {
            length: n("length")? as u32,
            chunk_length: n("chunk_length")? as u32,
        },
        "Prio3MultihotCountVec" => VdafConfig::Prio3MultihotCountVec {
            length: n("length")? as u32,
            chunk_length: n("chunk_length")? as u32,
            max_weight: n("max_weight")?,
        },
        _ => return None,
    })
}

/// Whether the vector says `operation` of report `index` succeeds (absent: not exercised).
fn expected(v: &Value, index: usize, operation: &str) -> Option<bool> {
    v["operations"].as_array()?.iter().find_map(|o| {
        (o["report_index"] == index && o["operation"] == operation)
            .then(|| o["success"].as_bool())
            .flatten()
    })
}

/// Runs one vector; returns how many reports it checked.
fn check<V>(name: &str, v: &Value, vdaf: &V) -> usize
where
    V: Aggregator<32, 16, AggregationParam = ()> + Collector,
    V::AggregateResult: serde::Serialize,
{
    let verify_key: [u8; 32] = hex(&v["verify_key"]).try_into().unwrap();
    let ctx = hex(&v["ctx"]);
    let mut outputs: [Vec<V::OutputShare>; 2] = [Vec::new(), Vec::new()];
    let reports = v["reports"].as_array().unwrap();
    for (i, report) in reports.iter().enumerate() {
        let nonce: [u8; 16] = hex(&report["nonce"]).try_into().unwrap();
        let public = V::PublicShare::get_decoded_with_param(vdaf, &hex(&report["public_share"]))
            .unwrap_or_else(|e| panic!("{name}: public share: {e}"));
        let mut states = Vec::new();
        let mut shares = Vec::new();
        for agg in 0..2 {
            let input = V::InputShare::get_decoded_with_param(
                &(vdaf, agg),
                &hex(&report["input_shares"][agg]),
            )
            .unwrap_or_else(|e| panic!("{name}: input share {agg}: {e}"));
            let (state, share) = vdaf
                .verify_init(&verify_key, &ctx, agg, &(), &nonce, &public, &input)
                .unwrap_or_else(|e| panic!("{name}: verify_init {agg}: {e}"));
            if let Some(want) = report["verifier_shares"][0][agg].as_str() {
                assert_eq!(
                    hex::encode(share.get_encoded().unwrap()),
                    want,
                    "{name}: verifier share {agg}"
                );
            }
            states.push(state);
            shares.push(share);
        }
        let message = vdaf.verifier_shares_to_message(&ctx, &(), shares);
        let want_message = expected(v, i, "verifier_shares_to_message").unwrap_or(true);
        assert_eq!(
            message.is_ok(),
            want_message,
            "{name}: verifier_shares_to_message"
        );
        let Ok(message) = message else { continue };
        let want_next = expected(v, i, "verify_next").unwrap_or(true);
        // A vector whose verify_next must fail carries an altered message: ours differs.
        if let (Some(want), true) = (report["verifier_messages"][0].as_str(), want_next) {
            assert_eq!(
                hex::encode(message.get_encoded().unwrap()),
                want,
                "{name}: message"
            );
        }
        for (agg, state) in states.into_iter().enumerate() {
            // The message as the vector carries it (a bad_verifier_message vector alters it).
            let carried = report["verifier_messages"][0]
                .as_str()
                .map(|_| {
                    V::VerifierMessage::get_decoded_with_param(
                        &state,
                        &hex(&report["verifier_messages"][0]),
                    )
                    .unwrap()
                })
                .unwrap_or_else(|| message.clone());
            let next = vdaf.verify_next(&ctx, state, carried);
            assert_eq!(next.is_ok(), want_next, "{name}: verify_next {agg}");
            match next {
                Ok(VerifyTransition::Finish(out)) => {
                    assert_eq!(
                        hex::encode(out.get_encoded().unwrap()),
                        report["out_shares"][agg].as_str().unwrap(),
                        "{name}: output share {agg}"
                    );
                    outputs[agg].push(out);
                }
                Ok(VerifyTransition::Continue(..)) => panic!("{name}: Prio3 has one round"),
                Err(_) => {}
            }
        }
    }
    if !v["agg_result"].is_null() {
        let count = outputs[0].len();
        let [leader, helper] = outputs;
        let shares = [
            vdaf.aggregate(&(), leader).unwrap(),
            vdaf.aggregate(&(), helper).unwrap(),
        ];
        let result = vdaf.unshard(&(), shares, count).unwrap();
        assert_eq!(
            serde_json::to_value(result).unwrap(),
            v["agg_result"],
            "{name}: aggregate"
        );
    }
    reports.len()
}

#[test]
fn prio3_matches_the_official_vectors_through_dap_task_parameters() {
    let mut checked = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(vectors_dir())
        .expect("the VDAF vectors in ../shared/vectors")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if v["shares"] != 2 {
            continue;
        }
        let Some(config) = config(&name, &v) else {
            continue;
        };
        let reports = match Prio3Vdaf::new(&config).unwrap() {
            Prio3Vdaf::Count(vdaf) => check(&name, &v, &vdaf),
            Prio3Vdaf::Sum(vdaf) => check(&name, &v, &vdaf),
            Prio3Vdaf::SumVec(vdaf) => check(&name, &v, &vdaf),
            Prio3Vdaf::Histogram(vdaf) => check(&name, &v, &vdaf),
            Prio3Vdaf::MultihotCountVec(vdaf) => check(&name, &v, &vdaf),
        };
        checked.push((name, reports));
    }
    let names: Vec<&str> = checked.iter().map(|(n, _)| n.as_str()).collect();
    println!("{checked:?}");
    for must in [
        "Prio3Count_0",
        "Prio3Count_bad_meas_share",
        "Prio3Sum_2",
        "Prio3SumVec_0",
        "Prio3Histogram_2",
        "Prio3Histogram_bad_verifier_message",
        "Prio3MultihotCountVec_2",
    ] {
        assert!(names.contains(&must), "{must} was not checked");
    }
}
