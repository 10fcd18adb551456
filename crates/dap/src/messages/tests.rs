//! Known encodings from the draft, round trips of every message, and malformed input.

use proptest::prelude::*;

use super::*;

fn id<const N: usize>(seed: u8) -> [u8; N] {
    std::array::from_fn(|i| seed.wrapping_add(i as u8))
}

fn ciphertext(config_id: u8) -> HpkeCiphertext {
    HpkeCiphertext {
        config_id,
        enc: vec![0xe0; 32],
        payload: vec![0xab; 41],
    }
}

fn metadata(seed: u8) -> ReportMetadata {
    ReportMetadata {
        report_id: ReportId(id(seed)),
        time: Time(1_700_000_000 / 60),
        public_extensions: Extensions(vec![Extension {
            extension_type: 7,
            extension_data: vec![1, 2, 3],
        }]),
    }
}

fn task_configuration() -> TaskConfiguration {
    let mut interval = Vec::new();
    prio::codec::Encode::encode(
        &Interval {
            start: Time(100),
            duration: Duration(50),
        },
        &mut interval,
    )
    .unwrap();
    let vdaf = VdafConfig::Prio3Histogram {
        length: 12,
        chunk_length: 3,
    };
    TaskConfiguration {
        task_info: b"browser telemetry".to_vec(),
        leader_aggregator_endpoint: "https://leader.example/dap/".into(),
        helper_aggregator_endpoint: "https://helper.example/".into(),
        time_precision: 3600,
        min_batch_size: 100,
        batch_mode: BatchMode::TimeInterval,
        batch_config: Vec::new(),
        vdaf_type: vdaf.vdaf_type(),
        vdaf_configuration: vdaf.configuration(),
        extensions: Extensions(vec![Extension {
            extension_type: TASK_INTERVAL,
            extension_data: interval,
        }]),
    }
}

fn collection_job_req() -> CollectionJobReq {
    CollectionJobReq {
        query: Query(Batch::TimeInterval(Interval {
            start: Time(120),
            duration: Duration(24),
        })),
        agg_param: Vec::new(),
        extensions: Extensions::default(),
    }
}

/// Decodes a whole message of one type and encodes it again.
type Roundtrip = fn(&[u8]) -> Result<Vec<u8>, MessageError>;

/// One sample of every structure, encoded, with whether it ends in a to-the-end vector.
fn samples() -> Vec<(&'static str, Vec<u8>, bool, Roundtrip)> {
    fn roundtrip<T: prio::codec::Decode + prio::codec::Encode>(
        bytes: &[u8],
    ) -> Result<Vec<u8>, MessageError> {
        encode(&decode_all::<T>(bytes, "sample")?, "sample")
    }
    let enc = |v: &dyn Fn(&mut Vec<u8>)| {
        let mut b = Vec::new();
        v(&mut b);
        b
    };
    use prio::codec::Encode as E;
    let report = Report {
        report_metadata: metadata(1),
        public_share: vec![9; 20],
        leader_encrypted_input_share: ciphertext(1),
        helper_encrypted_input_share: ciphertext(2),
    };
    let verify_init = VerifyInit {
        report_share: ReportShare {
            report_metadata: metadata(2),
            public_share: Vec::new(),
            encrypted_input_share: ciphertext(3),
        },
        payload: vec![5; 9],
    };
    vec![
        (
            "HpkeConfigList",
            enc(&|b| {
                HpkeConfigList(vec![
                    HpkeConfig {
                        id: 1,
                        kem_id: 0x20,
                        kdf_id: 1,
                        aead_id: 1,
                        public_key: vec![7; 32],
                    },
                    HpkeConfig {
                        id: 2,
                        kem_id: 0x10,
                        kdf_id: 1,
                        aead_id: 2,
                        public_key: vec![4; 65],
                    },
                ])
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<HpkeConfigList>,
        ),
        (
            "UploadRequest",
            enc(&|b| {
                UploadRequest {
                    reports: vec![report.clone(), report.clone()],
                }
                .encode(b)
                .unwrap()
            }),
            true,
            roundtrip::<UploadRequest>,
        ),
        (
            "UploadErrors",
            enc(&|b| {
                UploadErrors {
                    status: vec![
                        ReportUploadStatus {
                            id: ReportId(id(3)),
                            error: ReportError::OutdatedConfig,
                        },
                        ReportUploadStatus {
                            id: ReportId(id(4)),
                            error: ReportError::ReportReplayed,
                        },
                    ],
                }
                .encode(b)
                .unwrap()
            }),
            true,
            roundtrip::<UploadErrors>,
        ),
        (
            "PlaintextInputShare",
            enc(&|b| {
                PlaintextInputShare {
                    private_extensions: Extensions::default(),
                    payload: vec![3; 33],
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<PlaintextInputShare>,
        ),
        (
            "InputShareAad",
            enc(&|b| {
                InputShareAad {
                    task_id: TaskId(id(8)),
                    task_configuration: task_configuration(),
                    report_metadata: metadata(5),
                    public_share: vec![1],
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<InputShareAad>,
        ),
        (
            "AggregationJobInitReq",
            enc(&|b| {
                AggregationJobInitReq {
                    verification_key_id: 0,
                    agg_param: Vec::new(),
                    extensions: Extensions(vec![Extension {
                        extension_type: LEADER_SELECTED_BATCH_ID,
                        extension_data: id::<32>(9).to_vec(),
                    }]),
                    verify_inits: vec![verify_init.clone(), verify_init.clone()],
                }
                .encode(b)
                .unwrap()
            }),
            true,
            roundtrip::<AggregationJobInitReq>,
        ),
        (
            "AggregationJobResp",
            enc(&|b| {
                AggregationJobResp {
                    verify_resps: vec![
                        VerifyResp {
                            report_id: ReportId(id(1)),
                            result: VerifyResult::Continue(vec![1, 2]),
                        },
                        VerifyResp {
                            report_id: ReportId(id(2)),
                            result: VerifyResult::Finish,
                        },
                        VerifyResp {
                            report_id: ReportId(id(3)),
                            result: VerifyResult::Reject(ReportError::VdafVerifyError),
                        },
                    ],
                }
                .encode(b)
                .unwrap()
            }),
            true,
            roundtrip::<AggregationJobResp>,
        ),
        (
            "AggregationJobContinueReq",
            enc(&|b| {
                AggregationJobContinueReq {
                    step: 1,
                    verify_continues: vec![VerifyContinue {
                        report_id: ReportId(id(1)),
                        payload: vec![8; 17],
                    }],
                }
                .encode(b)
                .unwrap()
            }),
            true,
            roundtrip::<AggregationJobContinueReq>,
        ),
        (
            "CollectionJobReq",
            enc(&|b| collection_job_req().encode(b).unwrap()),
            false,
            roundtrip::<CollectionJobReq>,
        ),
        (
            "CollectionJobResp",
            enc(&|b| {
                CollectionJobResp {
                    report_count: 1234,
                    interval: Interval {
                        start: Time(120),
                        duration: Duration(3),
                    },
                    leader_encrypted_agg_share: ciphertext(4),
                    helper_encrypted_agg_share: ciphertext(4),
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<CollectionJobResp>,
        ),
        (
            "AggregateShareReq",
            enc(&|b| {
                AggregateShareReq {
                    collection_job_req: CollectionJobReq {
                        query: Query(Batch::LeaderSelected(None)),
                        agg_param: Vec::new(),
                        extensions: Extensions::default(),
                    },
                    batch_selector: BatchSelector(Batch::LeaderSelected(Some(BatchId(id(6))))),
                    report_count: 77,
                    checksum: id(0x40),
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<AggregateShareReq>,
        ),
        (
            "AggregateShare",
            enc(&|b| {
                AggregateShare {
                    encrypted_aggregate_share: ciphertext(4),
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<AggregateShare>,
        ),
        (
            "AggregateShareAad",
            enc(&|b| {
                AggregateShareAad {
                    task_id: TaskId(id(8)),
                    task_configuration: task_configuration(),
                    collection_job_req: collection_job_req(),
                }
                .encode(b)
                .unwrap()
            }),
            false,
            roundtrip::<AggregateShareAad>,
        ),
    ]
}

#[test]
fn every_message_decodes_to_what_encodes_to_the_same_bytes() {
    for (name, bytes, _, roundtrip) in samples() {
        assert_eq!(roundtrip(&bytes).unwrap(), bytes, "{name}");
    }
}

#[test]
fn a_message_cut_short_is_refused_unless_it_ends_between_items_of_a_to_the_end_vector() {
    for (name, bytes, to_the_end, roundtrip) in samples() {
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            match roundtrip(prefix) {
                Err(_) => {}
                // A to-the-end vector may end after any whole item: the shorter message is
                // valid and encodes to exactly the bytes it was given.
                Ok(again) => assert!(
                    to_the_end && again == prefix,
                    "{name} cut to {cut} of {} bytes was accepted",
                    bytes.len()
                ),
            }
        }
    }
}

#[test]
fn a_byte_after_a_message_is_refused() {
    for (name, mut bytes, _, roundtrip) in samples() {
        bytes.push(0);
        assert!(roundtrip(&bytes).is_err(), "{name} with a trailing byte");
    }
}

#[test]
fn lengths_that_lie_are_refused() {
    use prio::codec::Encode as _;
    let good = ciphertext(1).get_encoded().unwrap();
    // enc's u16 length sits after the config id; payload's u32 length after enc.
    for (at, delta) in [(1usize, 1i64), (1, -1), (35, 1), (35, -1)] {
        let mut bytes = good.clone();
        let width = if at == 1 { 2 } else { 4 };
        let mut length = bytes[at..at + width]
            .iter()
            .fold(0i64, |v, b| (v << 8) | i64::from(*b));
        length += delta;
        for (i, b) in bytes[at..at + width].iter_mut().enumerate() {
            *b = (length >> (8 * (width - 1 - i))) as u8;
        }
        assert!(
            decode_all::<HpkeCiphertext>(&bytes, "HpkeCiphertext").is_err(),
            "length at {at} off by {delta}"
        );
    }
    let huge = {
        let mut b = good.clone();
        b[35..39].copy_from_slice(&u32::MAX.to_be_bytes());
        b
    };
    assert!(matches!(
        decode_all::<HpkeCiphertext>(&huge, "HpkeCiphertext"),
        Err(MessageError::LengthPastEnd {
            field: "payload",
            ..
        })
    ));
}

#[test]
fn values_the_draft_does_not_define_are_refused_by_name() {
    let unknown = |bytes: &[u8]| match decode_all::<BatchSelector>(bytes, "BatchSelector") {
        Err(MessageError::UnknownValue { field, value }) => (field, value),
        other => panic!("{other:?}"),
    };
    assert_eq!(unknown(&[3, 0, 0]), ("batch_mode", 3));
    assert_eq!(unknown(&[0, 0, 0]), ("batch_mode", 0));
    let mut resp = vec![0; 16];
    resp.push(3);
    assert!(matches!(
        decode_all::<VerifyResp>(&resp, "VerifyResp"),
        Err(MessageError::UnknownValue {
            field: "verify_resp_type",
            value: 3
        })
    ));
    let mut status = vec![0; 16];
    status.push(12);
    assert!(matches!(
        decode_all::<UploadErrors>(&status, "UploadErrors"),
        Err(MessageError::UnknownValue {
            field: "report_error",
            value: 12
        })
    ));
    assert!(matches!(
        VdafConfig::parse(6, &[0, 8]),
        Err(MessageError::Unsupported {
            field: "vdaf_type",
            value: 6
        })
    ));
    assert!(matches!(
        VdafConfig::parse(7, &[]),
        Err(MessageError::UnknownValue {
            field: "vdaf_type",
            value: 7
        })
    ));
    assert!(matches!(
        VdafConfig::parse(0xFFFF_0001, &[]),
        Err(MessageError::Unsupported { .. })
    ));
    assert!(
        VdafConfig::parse(2, &[0; 7]).is_err(),
        "Prio3Sum takes 8 bytes"
    );
}

#[test]
fn vectors_below_the_drafts_lower_bound_are_refused_both_ways() {
    use prio::codec::Encode as _;
    let empty_enc = HpkeCiphertext {
        config_id: 1,
        enc: Vec::new(),
        payload: vec![1],
    };
    assert!(empty_enc.get_encoded().is_err());
    assert!(matches!(
        decode_all::<HpkeCiphertext>(&[1, 0, 0, 0, 0, 0, 1, 9], "HpkeCiphertext"),
        Err(MessageError::TooShort { field: "enc", .. })
    ));
    assert!(HpkeConfigList(Vec::new()).get_encoded().is_err());
    assert!(decode_all::<HpkeConfigList>(&[0, 0], "HpkeConfigList").is_err());
    // A continuation at step 0 and a Continue without a message.
    assert!(decode_all::<AggregationJobContinueReq>(&[0, 0], "continue").is_err());
    let mut resp = vec![0; 16];
    resp.extend([0, 0, 0, 0, 0]);
    assert!(matches!(
        decode_all::<VerifyResp>(&resp, "VerifyResp"),
        Err(MessageError::TooShort {
            field: "payload",
            ..
        })
    ));
    // A leader-selected query carries no config; a selector carries exactly a batch id.
    assert!(decode_all::<Query>(&[2, 0, 1, 7], "Query").is_err());
    assert!(decode_all::<BatchSelector>(&[2, 0, 1, 7], "BatchSelector").is_err());
}

#[test]
fn encodings_match_the_draft_byte_for_byte() {
    use prio::codec::Encode as _;
    // §3: a task id in a URL.
    let task = TaskId([
        0xf0, 0x16, 0x34, 0x47, 0x36, 0x4c, 0xcf, 0x1b, 0xc0, 0xe3, 0xaf, 0xfc, 0xca, 0x68, 0x73,
        0xc9, 0xc3, 0x81, 0xf6, 0x4a, 0xcd, 0xf9, 0x02, 0x06, 0x62, 0xf8, 0x3f, 0x46, 0xc0, 0x72,
        0x19, 0xe7,
    ]);
    assert_eq!(
        task.to_string(),
        "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec"
    );
    assert_eq!(
        "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec"
            .parse::<TaskId>()
            .unwrap(),
        task
    );
    assert!(
        "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGe"
            .parse::<TaskId>()
            .is_err()
    );
    // §4.4.2.1 and §4.6.7: HPKE info strings.
    assert_eq!(
        input_share_info(Role::Leader),
        b"dap-18 input share\x01\x02"
    );
    assert_eq!(
        input_share_info(Role::Helper),
        b"dap-18 input share\x01\x03"
    );
    assert_eq!(
        aggregate_share_info(Role::Leader),
        b"dap-18 aggregate share\x02\x00"
    );
    assert_eq!(
        aggregate_share_info(Role::Helper),
        b"dap-18 aggregate share\x03\x00"
    );
    assert_eq!(vdaf_context(&task).len(), 38);
    // §4.6.1: queries.
    let interval = Interval {
        start: Time(1),
        duration: Duration(2),
    };
    let mut expected = vec![1, 0, 16];
    expected.extend(1u64.to_be_bytes());
    expected.extend(2u64.to_be_bytes());
    assert_eq!(
        Query(Batch::TimeInterval(interval)).get_encoded().unwrap(),
        expected
    );
    assert_eq!(
        Query(Batch::LeaderSelected(None)).get_encoded().unwrap(),
        [2, 0, 0]
    );
    // §4.5.3.2: finish is 17 bytes, reject 18.
    let finish = VerifyResp {
        report_id: ReportId([0; 16]),
        result: VerifyResult::Finish,
    };
    assert_eq!(finish.get_encoded().unwrap().len(), 17);
    let reject = VerifyResp {
        report_id: ReportId([0; 16]),
        result: VerifyResult::Reject(ReportError::ReportDropped),
    };
    assert_eq!(reject.get_encoded().unwrap()[16..], [2, 3]);
    // §4.2.3: the task interval extension, and Appendix B: VDAF configurations.
    let config = task_configuration();
    assert_eq!(
        config.task_interval().unwrap(),
        Some(Interval {
            start: Time(100),
            duration: Duration(50)
        })
    );
    let ext = config.extensions.get_encoded().unwrap();
    assert_eq!(ext[..6], [0, 20, 0, 1, 0, 16]);
    for vdaf in [
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum {
            max_measurement: 255,
        },
        VdafConfig::Prio3SumVec {
            length: 10,
            max_measurement: 1,
            chunk_length: 4,
        },
        VdafConfig::Prio3Histogram {
            length: 12,
            chunk_length: 3,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 10,
            chunk_length: 4,
            max_weight: 3,
        },
    ] {
        assert_eq!(
            VdafConfig::parse(vdaf.vdaf_type(), &vdaf.configuration()).unwrap(),
            vdaf
        );
    }
    assert_eq!(
        VdafConfig::Prio3Sum {
            max_measurement: 255
        }
        .configuration(),
        [0, 0, 0, 0, 0, 0, 0, 255]
    );
}

#[test]
fn extension_lists_must_strictly_increase() {
    let list = |types: &[u16]| {
        Extensions(
            types
                .iter()
                .map(|&t| Extension {
                    extension_type: t,
                    extension_data: Vec::new(),
                })
                .collect(),
        )
    };
    assert!(list(&[1, 2, 9]).check_order().is_ok());
    assert!(matches!(
        list(&[2, 1]).check_order(),
        Err(MessageError::ExtensionsOutOfOrder {
            previous: 2,
            next: 1
        })
    ));
    assert!(matches!(
        list(&[3, 3]).check_order(),
        Err(MessageError::ExtensionsOutOfOrder { .. })
    ));
    assert!(matches!(
        list(&[0]).check_order(),
        Err(MessageError::UnknownValue {
            field: "extension_type",
            value: 0
        })
    ));
    assert_eq!(list(&[1, 5, 9]).unknown(&[1]), [5, 9]);
}

proptest! {
    /// Whatever the bytes, decoding returns (a value or an error) and never panics; bytes that
    /// decode encode back to themselves.
    #[test]
    fn arbitrary_bytes_never_panic_and_what_decodes_reencodes_exactly(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        for (_, _, _, roundtrip) in samples() {
            if let Ok(again) = roundtrip(&bytes) {
                prop_assert_eq!(again, bytes.clone());
            }
        }
    }

    /// One flipped byte in a valid message never panics either.
    #[test]
    fn a_flipped_byte_never_panics(which in 0usize..13, at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let samples = samples();
        let (_, mut bytes, _, roundtrip) = samples[which].clone();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        let _ = roundtrip(&bytes);
    }
}

/// Bytes written by hand from the draft's structure definitions (RFC 8446 §3 encoding), with
/// no use of the encoders under test.
struct Tls(Vec<u8>);

impl Tls {
    fn new() -> Self {
        Self(Vec::new())
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    /// `opaque x<0..2^16-1>`.
    fn v16(self, v: &[u8]) -> Self {
        self.u16(v.len() as u16).raw(v)
    }
    /// `opaque x<0..2^32-1>`.
    fn v32(mut self, v: &[u8]) -> Self {
        self.0.extend((v.len() as u32).to_be_bytes());
        self.raw(v)
    }
    /// `HpkeCiphertext { config_id; enc<1..2^16-1>; payload<1..2^32-1> }`.
    fn ciphertext(self, c: &HpkeCiphertext) -> Self {
        self.u8(c.config_id).v16(&c.enc).v32(&c.payload)
    }
    /// `ReportMetadata { report_id[16]; time; Extension public_extensions<0..2^16-1> }` with
    /// the one extension of [`metadata`].
    fn metadata(self, m: &ReportMetadata) -> Self {
        let extension = Tls::new().u16(7).v16(&[1, 2, 3]).0;
        self.raw(&m.report_id.0).u64(m.time.0).v16(&extension)
    }
}

#[test]
fn the_report_aggregation_job_and_collection_are_laid_out_as_the_draft_defines_them() {
    use prio::codec::Encode as _;
    let m = metadata(3);
    let (leader, helper) = (ciphertext(1), ciphertext(2));
    let report = Report {
        report_metadata: m.clone(),
        public_share: vec![9; 5],
        leader_encrypted_input_share: leader.clone(),
        helper_encrypted_input_share: helper.clone(),
    };
    // §4.4.2: Report { metadata; public_share<0..2^32-1>; leader share; helper share }.
    let expected = Tls::new()
        .metadata(&m)
        .v32(&[9; 5])
        .ciphertext(&leader)
        .ciphertext(&helper)
        .0;
    assert_eq!(report.get_encoded().unwrap(), expected);
    // UploadRequest { Report reports[message_length] }: the reports, back to back.
    let upload = UploadRequest {
        reports: vec![report.clone(), report.clone()],
    };
    assert_eq!(
        upload.get_encoded().unwrap(),
        [expected.clone(), expected].concat()
    );

    // §4.5.2.1: AggregationJobInitReq { verification_key_id; agg_param<0..2^32-1>;
    // AggregationJobExtension extensions<0..2^16-1>; VerifyInit verify_inits[...] }, with
    // VerifyInit { ReportShare { metadata; public_share; encrypted_input_share }; payload<1..2^32-1> }.
    let batch_id = [0x1f; 32];
    let init = AggregationJobInitReq {
        verification_key_id: 4,
        agg_param: Vec::new(),
        extensions: Extensions(vec![Extension {
            extension_type: LEADER_SELECTED_BATCH_ID,
            extension_data: batch_id.to_vec(),
        }]),
        verify_inits: vec![VerifyInit {
            report_share: ReportShare {
                report_metadata: m.clone(),
                public_share: vec![9; 5],
                encrypted_input_share: helper.clone(),
            },
            payload: vec![0x55; 7],
        }],
    };
    let extension = Tls::new().u16(1).v16(&batch_id).0;
    let expected = Tls::new()
        .u8(4)
        .v32(&[])
        .v16(&extension)
        .metadata(&m)
        .v32(&[9; 5])
        .ciphertext(&helper)
        .v32(&[0x55; 7])
        .0;
    assert_eq!(init.get_encoded().unwrap(), expected);

    // §4.6.1: CollectionJobReq { Query { batch_mode; config<0..2^16-1> }; agg_param<0..2^32-1>;
    // extensions<0..2^16-1> }, the time-interval query's config an Interval.
    let request = collection_job_req();
    let interval = Tls::new().u64(120).u64(24).0;
    let expected = Tls::new().u8(1).v16(&interval).v32(&[]).v16(&[]).0;
    assert_eq!(request.get_encoded().unwrap(), expected);
    // CollectionJobResp { report_count; Interval interval; leader share; helper share }.
    let response = CollectionJobResp {
        report_count: 1000,
        interval: Interval {
            start: Time(121),
            duration: Duration(3),
        },
        leader_encrypted_agg_share: leader.clone(),
        helper_encrypted_agg_share: helper.clone(),
    };
    let expected = Tls::new()
        .u64(1000)
        .u64(121)
        .u64(3)
        .ciphertext(&leader)
        .ciphertext(&helper)
        .0;
    assert_eq!(response.get_encoded().unwrap(), expected);
    // §4.6.3: AggregateShareReq { CollectionJobReq; BatchSelector; report_count; checksum[32] }.
    let share_request = AggregateShareReq {
        collection_job_req: request,
        batch_selector: BatchSelector(Batch::LeaderSelected(Some(BatchId(batch_id)))),
        report_count: 7,
        checksum: [0xcc; 32],
    };
    let expected = Tls::new()
        .raw(&Tls::new().u8(1).v16(&interval).v32(&[]).v16(&[]).0)
        .u8(2)
        .v16(&batch_id)
        .u64(7)
        .raw(&[0xcc; 32])
        .0;
    assert_eq!(share_request.get_encoded().unwrap(), expected);
}
