//! Clients make reports; this test plays both aggregators and the collector in one process:
//! each aggregator opens only its own sealed share (HPKE to its own key, bound to the task and
//! report), they verify every report together through
//! the VDAF's ping-pong messages, aggregate, and the collector's sum is the true sum. A client
//! whose share is altered is rejected by the validity proof.

use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::{
    PingPongContinuation, PingPongMessage, PingPongState, PingPongTopology,
};
use prio::vdaf::{Aggregator, Collector};
use sealroom_dap::client::ClientTask;
use sealroom_dap::hpke::HpkeKeypair;
use sealroom_dap::messages::{
    BatchMode, Extensions, InputShareAad, PlaintextInputShare, Report, Role, TaskConfiguration,
    TaskId, UploadRequest, VdafConfig, decode_all, encode, input_share_info, vdaf_context,
};
use sealroom_dap::vdaf::{Measurement, Prio3Vdaf};

struct Deployment {
    task: ClientTask,
    leader_key: HpkeKeypair,
    helper_key: HpkeKeypair,
    verify_key: [u8; 32],
}

fn deployment(vdaf: VdafConfig) -> Deployment {
    let (leader_key, helper_key) = (HpkeKeypair::generate(1), HpkeKeypair::generate(9));
    let configuration = TaskConfiguration {
        task_info: b"split aggregation test".to_vec(),
        leader_aggregator_endpoint: "https://leader.example/".into(),
        helper_aggregator_endpoint: "https://helper.example/".into(),
        time_precision: 3600,
        min_batch_size: 1,
        batch_mode: BatchMode::TimeInterval,
        batch_config: Vec::new(),
        vdaf_type: vdaf.vdaf_type(),
        vdaf_configuration: vdaf.configuration(),
        extensions: Extensions::default(),
    };
    Deployment {
        task: ClientTask {
            task_id: TaskId([0x5a; 32]),
            configuration,
            leader_hpke: leader_key.config.clone(),
            helper_hpke: helper_key.config.clone(),
        },
        leader_key,
        helper_key,
        verify_key: [7; 32],
    }
}

/// What an aggregator decrypts for `role`: the VDAF input share's bytes.
fn open_share(d: &Deployment, report: &Report, role: Role) -> Vec<u8> {
    open_as(d, &d.task.configuration, report, role).unwrap()
}

/// Opens `role`'s share as an aggregator holding `configuration` would; the AAD is built here
/// from what the aggregator knows, not taken from the client.
fn open_as(
    d: &Deployment,
    configuration: &TaskConfiguration,
    report: &Report,
    role: Role,
) -> Result<Vec<u8>, sealroom_dap::hpke::HpkeError> {
    let aad = encode(
        &InputShareAad {
            task_id: d.task.task_id,
            task_configuration: configuration.clone(),
            report_metadata: report.report_metadata.clone(),
            public_share: report.public_share.clone(),
        },
        "aad",
    )
    .unwrap();
    let (key, sealed) = match role {
        Role::Leader => (&d.leader_key, &report.leader_encrypted_input_share),
        _ => (&d.helper_key, &report.helper_encrypted_input_share),
    };
    let plaintext = key.open(sealed, &input_share_info(role), &aad)?;
    Ok(
        decode_all::<PlaintextInputShare>(&plaintext, "PlaintextInputShare")
            .unwrap()
            .payload,
    )
}

/// Both aggregators verify every report and aggregate; `tamper` may alter the helper's share of
/// report i. Returns the collector's result and how many reports were rejected.
fn aggregate<V>(
    d: &Deployment,
    vdaf: &V,
    reports: &[Report],
    tamper: &dyn Fn(usize, &mut Vec<u8>),
) -> (V::AggregateResult, usize)
where
    V: Aggregator<32, 16, AggregationParam = ()> + Collector,
    V: PingPongTopology<32, 16, PingPongContinuation = PingPongContinuation<32, 16, V>>,
{
    let ctx = vdaf_context(&d.task.task_id);
    let (mut leader_out, mut helper_out, mut rejected) = (Vec::new(), Vec::new(), 0);
    for (i, report) in reports.iter().enumerate() {
        let nonce = report.report_metadata.report_id.0;
        let public = V::PublicShare::get_decoded_with_param(vdaf, &report.public_share).unwrap();
        let leader_share =
            V::InputShare::get_decoded_with_param(&(vdaf, 0), &open_share(d, report, Role::Leader))
                .unwrap();
        let mut helper_bytes = open_share(d, report, Role::Helper);
        tamper(i, &mut helper_bytes);
        let helper_share =
            V::InputShare::get_decoded_with_param(&(vdaf, 1), &helper_bytes).unwrap();

        let leader = vdaf
            .leader_initialized(&d.verify_key, &ctx, &(), &nonce, &public, &leader_share)
            .unwrap();
        // Messages cross the wire encoded.
        let to_helper = PingPongMessage::get_decoded(&leader.message.get_encoded().unwrap());
        let helper = vdaf
            .helper_initialized(
                &d.verify_key,
                &ctx,
                &(),
                &nonce,
                &public,
                &helper_share,
                &to_helper.unwrap(),
            )
            .and_then(|c| c.evaluate(&ctx, vdaf));
        let (helper_share_out, to_leader) = match helper {
            Ok(PingPongState::FinishedWithOutbound {
                output_share,
                message,
            }) => (output_share, message),
            Ok(_) => panic!("Prio3 finishes in one round"),
            Err(_) => {
                rejected += 1;
                continue;
            }
        };
        let leader_done = vdaf
            .leader_continued(&ctx, &(), leader.verifier_state, &to_leader)
            .and_then(|c| c.evaluate(&ctx, vdaf))
            .unwrap();
        let PingPongState::Finished { output_share } = leader_done else {
            panic!("the leader finishes when the helper has");
        };
        leader_out.push(output_share);
        helper_out.push(helper_share_out);
    }
    let count = leader_out.len();
    let shares = [
        vdaf.aggregate(&(), leader_out).unwrap(),
        vdaf.aggregate(&(), helper_out).unwrap(),
    ];
    (vdaf.unshard(&(), shares, count).unwrap(), rejected)
}

/// Reports of `measurements`, sent through an encoded upload request.
fn upload(d: &Deployment, measurements: &[Measurement]) -> Vec<Report> {
    let reports = measurements
        .iter()
        .map(|m| d.task.report(m, 1_780_000_000).unwrap())
        .collect();
    let wire = encode(&UploadRequest { reports }, "UploadRequest").unwrap();
    decode_all::<UploadRequest>(&wire, "UploadRequest")
        .unwrap()
        .reports
}

#[test]
fn sums_from_many_clients_come_out_exact() {
    let d = deployment(VdafConfig::Prio3Sum {
        max_measurement: 1000,
    });
    let values: Vec<u64> = (0..40).map(|i| (i * 37) % 1001).collect();
    let reports = upload(
        &d,
        &values
            .iter()
            .map(|&v| Measurement::Sum(v))
            .collect::<Vec<_>>(),
    );
    assert_eq!(reports[0].report_metadata.time.0, 1_780_000_000 / 3600);
    let Prio3Vdaf::Sum(vdaf) = Prio3Vdaf::new(&d.task.configuration.vdaf().unwrap()).unwrap()
    else {
        unreachable!()
    };
    let (sum, rejected) = aggregate(&d, &vdaf, &reports, &|_, _| {});
    assert_eq!((sum, rejected), (values.iter().sum(), 0));
}

#[test]
fn a_histogram_counts_each_bucket_and_an_altered_share_is_rejected_by_the_proof() {
    let d = deployment(VdafConfig::Prio3Histogram {
        length: 5,
        chunk_length: 2,
    });
    let buckets = [0usize, 4, 4, 2, 1, 4, 0];
    let reports = upload(
        &d,
        &buckets
            .iter()
            .map(|&b| Measurement::Histogram(b))
            .collect::<Vec<_>>(),
    );
    let Prio3Vdaf::Histogram(vdaf) = Prio3Vdaf::new(&d.task.configuration.vdaf().unwrap()).unwrap()
    else {
        unreachable!()
    };
    let (counts, rejected) = aggregate(&d, &vdaf, &reports, &|_, _| {});
    assert_eq!((counts, rejected), (vec![2, 1, 1, 0, 3], 0));
    // A cheating client (or a corrupted share): flip a bit of report 3's helper share. The
    // validity proof no longer checks and the report counts nowhere.
    let (counts, rejected) = aggregate(&d, &vdaf, &reports, &|i, share| {
        if i == 3 {
            share[0] ^= 1;
        }
    });
    assert_eq!((counts, rejected), (vec![2, 1, 0, 0, 3], 1));
}

#[test]
fn clients_refuse_measurements_their_task_cannot_hold() {
    let d = deployment(VdafConfig::Prio3Sum {
        max_measurement: 10,
    });
    assert!(d.task.report(&Measurement::Sum(11), 0).is_err());
    assert!(d.task.report(&Measurement::Count(true), 0).is_err());
    let d = deployment(VdafConfig::Prio3MultihotCountVec {
        length: 4,
        chunk_length: 2,
        max_weight: 2,
    });
    assert!(
        d.task
            .report(
                &Measurement::MultihotCountVec(vec![true, true, true, false]),
                0
            )
            .is_err()
    );
    assert!(
        d.task
            .report(
                &Measurement::MultihotCountVec(vec![true, false, true, false]),
                0
            )
            .is_ok()
    );
}

#[test]
fn a_share_opens_only_for_its_task_report_time_and_public_share() {
    let d = deployment(VdafConfig::Prio3Count);
    let reports = upload(&d, &[Measurement::Count(true), Measurement::Count(false)]);
    let config = &d.task.configuration;
    for role in [Role::Leader, Role::Helper] {
        assert!(open_as(&d, config, &reports[0], role).is_ok());
        let mut moved = reports[0].clone();
        moved.report_metadata.time.0 += 1;
        assert!(open_as(&d, config, &moved, role).is_err(), "another time");
        let mut swapped = reports[0].clone();
        swapped.report_metadata.report_id = reports[1].report_metadata.report_id;
        assert!(open_as(&d, config, &swapped, role).is_err(), "another id");
        let mut other_task = config.clone();
        other_task.min_batch_size += 1;
        assert!(
            open_as(&d, &other_task, &reports[0], role).is_err(),
            "another task"
        );
        let mut other_public = reports[0].clone();
        other_public.public_share.push(0);
        assert!(
            open_as(&d, config, &other_public, role).is_err(),
            "another public share"
        );
    }
    // Each aggregator opens only its own share.
    let mut crossed = reports[0].clone();
    crossed.leader_encrypted_input_share = crossed.helper_encrypted_input_share.clone();
    assert!(open_as(&d, config, &crossed, Role::Leader).is_err());
}
