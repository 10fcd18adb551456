//! Both aggregators as HTTP services on loopback, each with its own SQLite store; clients
//! upload through the real client, the collector collects through the real collector. Every
//! VDAF's result equals the plaintext aggregate exactly, and the draft's rules hold against
//! clients, collectors and leaders that break them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sealroom_dap::client::{ClientTask, upload};
use sealroom_dap::collector::{CollectError, Collection, Collector};
use sealroom_dap::messages::{
    Batch, BatchMode, CollectionJobReq, Extensions, Interval, Query, Report, ReportError, ReportId,
    Role, Time, VdafConfig, encode,
};
use sealroom_dap::problem::DapProblem;
use sealroom_dap::transport::{DapClient, TransportError, resource_url};
use sealroom_dap::vdaf::{AggregateValue, Measurement};
use sealroom_dap_aggregator::noise::{NoiseKind, TaskNoise};
use sealroom_dap_aggregator::provision::{NewTask, TaskSpec, new_task};
use sealroom_dap_aggregator::{Aggregator, Store, driver, router};

const PRECISION: u64 = 3600;

/// One aggregator serving on loopback from a background runtime; stops when dropped.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(role: Role, db: PathBuf) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let aggregator = Aggregator::new(Store::open(&db).unwrap()).unwrap();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let _driver = (role == Role::Leader).then(|| driver::start(aggregator.clone()));
                axum::serve(listener, router(role, aggregator))
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            addr: addr_rx.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Deployment {
    _dir: tempfile::TempDir,
    leader: Running,
    helper: Running,
    task: NewTask,
    client: ClientTask,
    http: DapClient,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Deployment {
    fn new(vdaf: VdafConfig, batch_mode: BatchMode, min_batch_size: u64) -> Self {
        Self::with_noise(vdaf, batch_mode, min_batch_size, None)
    }

    fn with_noise(
        vdaf: VdafConfig,
        batch_mode: BatchMode,
        min_batch_size: u64,
        noise: Option<TaskNoise>,
    ) -> Self {
        Self::with(vdaf, batch_mode, min_batch_size, noise, None)
    }

    fn with(
        vdaf: VdafConfig,
        batch_mode: BatchMode,
        min_batch_size: u64,
        noise: Option<TaskNoise>,
        task_interval: Option<Interval>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (leader_db, helper_db) = (dir.path().join("leader.db"), dir.path().join("helper.db"));
        let leader = Running::start(Role::Leader, leader_db.clone());
        let helper = Running::start(Role::Helper, helper_db.clone());
        let task = new_task(
            &TaskSpec {
                leader_endpoint: leader.url(),
                helper_endpoint: helper.url(),
                vdaf,
                time_precision: PRECISION,
                min_batch_size,
                batch_mode,
                task_info: b"loopback test".to_vec(),
                task_interval,
                report_expiry_age: 24 * 3600,
                noise,
            },
            None,
        )
        .unwrap();
        add_task(&leader_db, &task.leader);
        add_task(&helper_db, &task.helper);
        let http = DapClient::new(Duration::from_secs(30));
        let client = ClientTask::fetch(&http, task.task_id, task.configuration.clone()).unwrap();
        Self {
            _dir: dir,
            leader,
            helper,
            task,
            client,
            http,
        }
    }

    fn collector(&self) -> Collector {
        Collector {
            http: self.http.clone(),
            task_id: self.task.task_id,
            configuration: self.task.configuration.clone(),
            credential: self.task.collector.clone(),
        }
    }

    fn upload(&self, measurements: &[Measurement], time: u64) -> Vec<ReportId> {
        let reports: Vec<Report> = measurements
            .iter()
            .map(|m| self.client.report(m, time).unwrap())
            .collect();
        let ids = reports
            .iter()
            .map(|r| r.report_metadata.report_id)
            .collect();
        let errors = upload(&self.http, &self.client, reports).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        ids
    }

    /// The time-interval query of the three hours around now.
    fn around_now(&self) -> Query {
        Query(Batch::TimeInterval(Interval {
            start: Time(now() / PRECISION - 1),
            duration: sealroom_dap::messages::Duration(3),
        }))
    }

    fn collect(&self, query: Query) -> Result<Collection, CollectError> {
        self.collector().collect(query, Duration::from_secs(60))
    }
}

fn add_task(db: &Path, task: &sealroom_dap_aggregator::AggregatorTask) {
    Store::open(db).unwrap().add_task(task).unwrap();
}

fn dap_problem(error: CollectError) -> Option<DapProblem> {
    match error {
        CollectError::Transport(e) => e.problem(),
        _ => None,
    }
}

#[test]
fn every_vdaf_collects_the_exact_plaintext_aggregate() {
    let cases: Vec<(VdafConfig, Vec<Measurement>, AggregateValue)> = vec![
        (
            VdafConfig::Prio3Count,
            (0..30).map(|i| Measurement::Count(i % 3 == 0)).collect(),
            AggregateValue::Scalar(10),
        ),
        (
            VdafConfig::Prio3Sum {
                max_measurement: 255,
            },
            (0..25).map(|i| Measurement::Sum(i * 10)).collect(),
            AggregateValue::Scalar((0..25).map(|i| i * 10).sum::<u64>().into()),
        ),
        (
            VdafConfig::Prio3SumVec {
                length: 3,
                max_measurement: 7,
                chunk_length: 2,
            },
            (0..20)
                .map(|i| Measurement::SumVec(vec![i % 8, 7 - i % 8, 1]))
                .collect(),
            AggregateValue::Vector(vec![
                (0..20).map(|i| i % 8).sum(),
                (0..20).map(|i| 7 - i % 8).sum(),
                20,
            ]),
        ),
        (
            VdafConfig::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
            (0..21).map(|i| Measurement::Histogram(i % 4)).collect(),
            AggregateValue::Vector(vec![6, 5, 5, 5]),
        ),
        (
            VdafConfig::Prio3MultihotCountVec {
                length: 4,
                chunk_length: 2,
                max_weight: 3,
            },
            (0..12)
                .map(|i| Measurement::MultihotCountVec(vec![true, i % 2 == 0, false, i % 3 == 0]))
                .collect(),
            AggregateValue::Vector(vec![12, 6, 0, 4]),
        ),
    ];
    for (vdaf, measurements, expected) in cases {
        let d = Deployment::new(vdaf, BatchMode::TimeInterval, 10);
        d.upload(&measurements, now());
        let collection = d.collect(d.around_now()).unwrap();
        assert_eq!(collection.value, expected, "{vdaf:?}");
        assert_eq!(collection.report_count, measurements.len() as u64);
        assert_eq!(collection.interval.start.0, now() / PRECISION);
        assert_eq!(collection.interval.duration.0, 1);
    }
}

#[test]
fn leader_selected_batches_hold_the_minimum_and_are_collected_in_turn() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::LeaderSelected, 8);
    let measurements: Vec<_> = (0..20).map(|i| Measurement::Count(i < 11)).collect();
    d.upload(&measurements, now());
    let query = Query(Batch::LeaderSelected(None));
    let first = d.collect(query).unwrap();
    let second = d.collect(query).unwrap();
    assert_eq!((first.report_count, second.report_count), (8, 8));
    // Reports are batched in time order; whichever 16 of 20 went into the batches, the counts
    // add up to what those reports hold, and no report is in both.
    let ones = |c: &Collection| c.value.values()[0];
    assert!(ones(&first) + ones(&second) <= 11);
    assert!(ones(&first) + ones(&second) >= 7);
    assert_ne!(first, second, "two batches");
    // Four reports remain: not enough for a third batch.
    assert_eq!(
        dap_problem(d.collect(query).unwrap_err()),
        Some(DapProblem::InvalidBatchSize)
    );
}

#[test]
fn an_invalid_measurement_is_rejected_by_the_proof_and_changes_nothing() {
    let d = Deployment::new(
        VdafConfig::Prio3Sum {
            max_measurement: 100,
        },
        BatchMode::TimeInterval,
        5,
    );
    d.upload(&(1..=6).map(Measurement::Sum).collect::<Vec<_>>(), now());
    let forged = d
        .client
        .invalid_report(&Measurement::Sum(50), now())
        .unwrap();
    assert!(upload(&d.http, &d.client, vec![forged]).unwrap().is_empty());
    let collection = d.collect(d.around_now()).unwrap();
    assert_eq!(collection.value, AggregateValue::Scalar(21));
    assert_eq!(collection.report_count, 6);
}

#[test]
fn replays_stale_and_future_reports_and_unknown_keys_are_refused_at_upload() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, 2);
    let report = d.client.report(&Measurement::Count(true), now()).unwrap();
    let replay = report.clone();
    let stale = d
        .client
        .report(&Measurement::Count(true), now() - 3 * 24 * 3600)
        .unwrap();
    let future = d
        .client
        .report(&Measurement::Count(true), now() + 2 * 3600)
        .unwrap();
    let mut unknown_key = d.client.report(&Measurement::Count(true), now()).unwrap();
    unknown_key.leader_encrypted_input_share.config_id ^= 0x80;
    let ids = [&stale, &future, &unknown_key].map(|r| r.report_metadata.report_id);
    assert!(upload(&d.http, &d.client, vec![report]).unwrap().is_empty());
    let errors = upload(&d.http, &d.client, vec![replay, stale, future, unknown_key]).unwrap();
    let got: Vec<_> = errors.iter().map(|s| (s.id, s.error)).collect();
    assert_eq!(
        got,
        vec![
            (got[0].0, ReportError::ReportReplayed),
            (ids[0], ReportError::ReportDropped),
            (ids[1], ReportError::ReportTooEarly),
            (ids[2], ReportError::OutdatedConfig),
        ]
    );
    // Only the one good report is aggregated: below the minimum of two. The refusal does not
    // say how many reports the batch holds.
    match d.collect(d.around_now()).unwrap_err() {
        CollectError::Transport(TransportError::Problem {
            problem, detail, ..
        }) => {
            assert_eq!(problem, Some(DapProblem::InvalidBatchSize));
            assert_eq!(
                detail,
                "the batch holds fewer reports than the task's minimum of 2"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_batch_is_collected_once_and_late_reports_for_it_are_refused() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, 3);
    d.upload(&vec![Measurement::Count(true); 4], now());
    let query = d.around_now();
    let collector = d.collector();
    let job = collector.start(query).unwrap();
    let collection = (0..1200)
        .find_map(|_| {
            let polled = collector.poll(&job).unwrap();
            if polled.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            polled
        })
        .unwrap();
    assert_eq!(collection.value, AggregateValue::Scalar(4));
    // Repeating the identical request names the same job (resource creation is idempotent):
    // nothing is collected twice.
    assert_eq!(collector.start(query).unwrap().id, job.id);
    // An overlapping interval is refused, and so is the same interval at a new job id (the
    // PUT form of earlier draft tips).
    let wider = Query(Batch::TimeInterval(Interval {
        start: Time(now() / PRECISION - 5),
        duration: sealroom_dap::messages::Duration(6),
    }));
    assert_eq!(
        dap_problem(d.collect(wider).unwrap_err()),
        Some(DapProblem::BatchOverlap)
    );
    let body = encode(&job.request, "req").unwrap();
    let url = resource_url(
        &d.leader.url(),
        &format!(
            "tasks/{}/collection_jobs/AAECAwQFBgcICQoLDA0ODw",
            d.task.task_id
        ),
    );
    let error = d
        .http
        .put::<CollectionJobReq>(&url, &body, Some(&d.task.collector.token))
        .unwrap_err();
    assert_eq!(error.problem(), Some(DapProblem::BatchOverlap));
    // A report for the collected hour is refused at upload.
    let late = d.client.report(&Measurement::Count(true), now()).unwrap();
    let errors = upload(&d.http, &d.client, vec![late]).unwrap();
    assert_eq!(errors[0].error, ReportError::BatchCollected);
}

#[test]
fn collection_needs_the_collectors_token_and_aggregation_the_leaders() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, 1);
    d.upload(&[Measurement::Count(true)], now());
    let mut wrong = d.collector();
    wrong.credential.token = "not-the-token".into();
    let refused = |error: CollectError| match error {
        CollectError::Transport(TransportError::Problem { status, kind, .. }) => (status, kind),
        other => panic!("{other}"),
    };
    assert_eq!(
        refused(
            wrong
                .collect(d.around_now(), Duration::from_secs(5))
                .unwrap_err()
        ),
        (403, "urn:sealroom:dap:unauthorized".to_string())
    );
    // Without any token.
    let body = encode(
        &CollectionJobReq {
            query: d.around_now(),
            agg_param: Vec::new(),
            extensions: Extensions::default(),
        },
        "req",
    )
    .unwrap();
    let url = resource_url(
        &d.leader.url(),
        &format!("tasks/{}/collection_jobs", d.task.task_id),
    );
    let error = d
        .http
        .post::<CollectionJobReq>(&url, &body, None)
        .unwrap_err();
    assert!(matches!(error, TransportError::Problem { status: 403, .. }));
    // The helper refuses aggregation jobs and aggregate shares without the leader's token: the
    // collector's token is not the leader's.
    let url = resource_url(
        &d.helper.url(),
        &format!("tasks/{}/aggregate_shares", d.task.task_id),
    );
    let error = d
        .http
        .post::<sealroom_dap::messages::AggregateShareReq>(&url, b"", Some(&d.task.collector.token))
        .unwrap_err();
    assert!(matches!(error, TransportError::Problem { status: 403, .. }));
    // The right collector still gets the result.
    assert_eq!(
        d.collect(d.around_now()).unwrap().value,
        AggregateValue::Scalar(1)
    );
}

#[test]
fn a_collector_of_an_earlier_draft_tip_creates_its_job_with_put_at_its_own_id() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, 2);
    d.upload(
        &[
            Measurement::Count(true),
            Measurement::Count(false),
            Measurement::Count(true),
        ],
        now(),
    );
    let request = CollectionJobReq {
        query: d.around_now(),
        agg_param: Vec::new(),
        extensions: Extensions::default(),
    };
    let body = encode(&request, "req").unwrap();
    let id = "AAECAwQFBgcICQoLDA0ODw";
    let url = resource_url(
        &d.leader.url(),
        &format!("tasks/{}/collection_jobs/{id}", d.task.task_id),
    );
    let token = Some(d.task.collector.token.as_str());
    let created = d.http.put::<CollectionJobReq>(&url, &body, token).unwrap();
    assert_eq!(created.status, 201);
    // Repeating the PUT is harmless; another request at the same id is refused.
    assert_eq!(
        d.http
            .put::<CollectionJobReq>(&url, &body, token)
            .unwrap()
            .status,
        201
    );
    let mut other = request.clone();
    other.query = Query(Batch::TimeInterval(Interval {
        start: Time(0),
        duration: sealroom_dap::messages::Duration(1),
    }));
    let other = encode(&other, "req").unwrap();
    assert!(d.http.put::<CollectionJobReq>(&url, &other, token).is_err());
    let job = sealroom_dap::collector::CollectionJob {
        id: id.into(),
        request,
    };
    let collector = d.collector();
    let collection = (0..600)
        .find_map(|_| {
            let polled = collector.poll(&job).unwrap();
            if polled.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            polled
        })
        .expect("the job finishes");
    assert_eq!(collection.value, AggregateValue::Scalar(2));
}

#[test]
fn a_task_with_differential_privacy_releases_noised_sums_within_the_noises_bound() {
    let noise = TaskNoise {
        mechanism: NoiseKind::Laplace,
        epsilon: (1, 10),
        delta: 0.0,
    };
    let d = Deployment::with_noise(
        VdafConfig::Prio3Count,
        BatchMode::TimeInterval,
        5,
        Some(noise),
    );
    let hours = [now() - 2 * 3600, now() - 3600, now()];
    for time in hours {
        d.upload(
            &(0..30)
                .map(|i| Measurement::Count(i % 3 == 0))
                .collect::<Vec<_>>(),
            time,
        );
    }
    // Each aggregator adds its own draw: the result is off by at most twice one draw's bound.
    let bound = noise
        .mechanism(&VdafConfig::Prio3Count)
        .unwrap()
        .error_bound(1.0 - 1e-9) as i128;
    let mut exact = 0;
    for time in hours {
        let query = Query(Batch::TimeInterval(Interval {
            start: Time(time / PRECISION),
            duration: sealroom_dap::messages::Duration(1),
        }));
        let collection = d.collect(query).unwrap();
        assert_eq!(collection.report_count, 30, "counts are not noised");
        let released = collection.value.signed(&VdafConfig::Prio3Count)[0];
        assert!(
            (released - 10).abs() <= 2 * bound,
            "{released} vs 10 ± {}",
            2 * bound
        );
        exact += usize::from(released == 10);
    }
    // With ε = 0.1 the two draws cancel exactly about 3.5% of the time: three exact results
    // in a row would mean no noise (probability about 4e-5 otherwise).
    assert!(exact < 3, "no noise was added");
}

#[test]
fn reports_after_the_tasks_end_are_refused() {
    // The task ended an hour ago (its interval is in time units of an hour).
    let end = now() / PRECISION - 1;
    let d = Deployment::with(
        VdafConfig::Prio3Count,
        BatchMode::TimeInterval,
        1,
        None,
        Some(Interval {
            start: Time(0),
            duration: sealroom_dap::messages::Duration(end),
        }),
    );
    let late = d.client.report(&Measurement::Count(true), now()).unwrap();
    let in_time = d
        .client
        .report(&Measurement::Count(true), (end - 1) * PRECISION)
        .unwrap();
    let errors = upload(&d.http, &d.client, vec![late.clone(), in_time]).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].id, late.report_metadata.report_id);
    assert_eq!(errors[0].error, ReportError::ReportDropped);
}

#[test]
fn a_stream_of_junk_uploads_does_not_hold_back_a_collection() {
    let d = Deployment::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, 3);
    d.upload(&vec![Measurement::Count(true); 3], now());
    // An outsider keeps uploading reports that will not open (valid config id, garbage
    // ciphertext), for another hour and for this one.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let junk = {
        let (stop, http, client) = (stop.clone(), d.http.clone(), d.client.clone());
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let hours_ago = if sent % 2 == 0 { 2 * 3600 } else { 0 };
                let mut report = client
                    .report(&Measurement::Count(true), now() - hours_ago)
                    .unwrap();
                report.leader_encrypted_input_share.payload[0] ^= 1;
                let _ = upload(&http, &client, vec![report]);
                sent += 1;
            }
            sent
        })
    };
    let collection = d
        .collector()
        .collect(d.around_now(), Duration::from_secs(20));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = junk.join().unwrap();
    let collection = collection.unwrap();
    assert_eq!(
        collection.value,
        AggregateValue::Scalar(3),
        "after {sent} junk uploads"
    );
}
