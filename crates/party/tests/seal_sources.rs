//! Sealing from CSV, Parquet and Arrow files: every value typed by the agreement's schema,
//! the first bad one named by row, column and value, and nothing written when one is bad.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::schema::ColumnType;
use sealroom_crypto::envelope::unwrap_own_key;
use sealroom_crypto::{DataKey, EnvelopeReader, Identity};
use sealroom_party::authoring::{compile, party_block};
use sealroom_party::error::PartyError;
use sealroom_party::owner::{SealOptions, SealSummary, seal_dataset};
use sealroom_party::source::{SourceError, SourceFormat};
use sealroom_programs::BuiltinCatalog;
use sealroom_tables::{Table, TableError, read_payload};

struct Setup {
    dir: tempfile::TempDir,
    alice: Identity,
    agreement: SignedAgreement,
}

fn setup() -> Setup {
    let alice = Identity::generate("alice", Some("http://127.0.0.1:1".into())).unwrap();
    let bob = Identity::generate("bob", Some("http://127.0.0.1:2".into())).unwrap();
    let text = format!(
        r#"
format = "sealroom-agreement/v1"
name = "typed"
valid_from = 2026-01-01T00:00:00Z
valid_until = 2036-01-01T00:00:00Z

{alice}
{bob}
[[dataset]]
owner = "alice"
name = "touches"
person_column = "person"
columns = [
  {{ name = "person", type = "string" }},
  {{ name = "at", type = "timestamp" }},
  {{ name = "kind", type = "string", values = ["click", "view"] }},
  {{ name = "cost", type = "decimal", scale = 2, optional = true }},
  {{ name = "n", type = "integer" }},
  {{ name = "ok", type = "boolean", optional = true }},
]

[[dataset]]
owner = "bob"
name = "buys"
person_column = "person"
columns = [{{ name = "person", type = "string" }}]

[program]
id = "overlap"
version = 1
params = {{ left = "alice/touches", right = "bob/buys", group_column = "kind" }}

[[runtime]]
platform = "sim"
measurements = ["{m}"]

[[output]]
name = "overlap"
readers = ["bob"]

[privacy]
epsilon_per_run = 0.5
delta_per_run = 1e-9
total_epsilon_per_dataset = 2.0
max_groups_per_person = 1
"#,
        alice = party_block(&alice.card()),
        bob = party_block(&bob.card()),
        m = "ab".repeat(32)
    );
    let agreement = SignedAgreement::unsigned(compile(&text, &BuiltinCatalog).unwrap());
    Setup {
        dir: tempfile::tempdir().unwrap(),
        alice,
        agreement,
    }
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn seal(&self, input: &Path) -> Result<SealSummary, PartyError> {
        seal_dataset(
            &self.alice,
            &self.agreement,
            "touches",
            input,
            &self.path("out.envelope"),
            &SealOptions::default(),
            1_800_000_000_000,
            Box::new(|_| {}),
        )
    }

    /// The sealed payload, decrypted with the owner's own key and decoded as the isolate does.
    fn open(&self, summary: &SealSummary) -> Table {
        let file = std::fs::File::open(&summary.output).unwrap();
        let mut reader = std::io::BufReader::new(file);
        let (header, digest) = sealroom_crypto::envelope::read_header(&mut reader).unwrap();
        let key: DataKey = unwrap_own_key(&self.alice, &header).unwrap();
        let plaintext = EnvelopeReader::new(reader, &header, digest, &key);
        let schema = &self.agreement.agreement.datasets[0].schema;
        read_payload(plaintext, schema).unwrap()
    }

    /// Seals `input`, expecting the refusal `check` describes, and that nothing was written.
    fn refused(&self, input: &Path, check: impl Fn(&SourceError) -> bool) -> String {
        let err = self.seal(input).unwrap_err();
        let message = err.to_string();
        match &err {
            PartyError::Source { source, .. } => assert!(check(source), "{message}"),
            other => panic!("not a source error: {other}"),
        }
        assert!(!self.path("out.envelope").exists(), "a partial envelope");
        let stray: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".envelope") || n.starts_with(".tmp"))
            .collect();
        assert!(stray.is_empty(), "left behind: {stray:?}");
        message
    }
}

const GOOD_CSV: &str = "n,person,kind,at,cost,ok,extra\n\
    1,p1,click,2026-03-01T12:00:00Z,12.34,true,x\n\
    2,p2,view,1772366400.5, ,,y\n\
    3, p3 ,view,2026-03-01 13:00:00.000001+01:00,-0.5,0,z\n";

#[test]
fn csv_is_typed_by_the_schema_in_any_column_order_and_extra_columns_are_left_out() {
    let s = setup();
    let input = s.path("touches.csv");
    std::fs::write(&input, GOOD_CSV).unwrap();
    let summary = s.seal(&input).unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.format, "csv");
    assert_eq!(summary.ignored_columns, ["extra"]);
    let table = s.open(&summary);
    // Strings byte for byte, untrimmed.
    assert_eq!(
        table.text("person").unwrap().iter().collect::<Vec<_>>(),
        ["p1", "p2", " p3 "]
    );
    let at = table.numbers("at", ColumnType::Timestamp).unwrap();
    assert_eq!(
        at.values(),
        [
            1_772_366_400_000_000,
            1_772_366_400_500_000,
            1_772_366_400_000_001
        ]
    );
    let cost = table.numbers("cost", ColumnType::Decimal).unwrap();
    assert_eq!(
        (0..3).map(|i| cost.get(i)).collect::<Vec<_>>(),
        [Some(1234), None, Some(-50)]
    );
    let ok = table.booleans("ok").unwrap();
    assert_eq!(
        (0..3).map(|i| ok.get(i)).collect::<Vec<_>>(),
        [Some(true), None, Some(false)]
    );
}

#[test]
fn the_first_bad_csv_value_is_named_and_nothing_is_sealed() {
    let s = setup();
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "n,person,kind,at,cost,ok\n1,p1,click,2026-03-01T12:00:00Z,,\n2,p2,view,2026-02-30T00:00:00Z,,\n",
            "unparseable time",
            &["row 2", "\"at\"", "2026-02-30T00:00:00Z", "timestamp"],
        ),
        (
            "n,person,kind,at,cost,ok\n1,p1,click,1,,\nseven,p2,view,2,,\n",
            "text in an integer column",
            &["row 2", "\"n\"", "\"seven\"", "integer"],
        ),
        (
            "n,person,kind,at,cost,ok\n1,p1,click,1,,\n2,p2,view,2,,\n3,,view,3,,\n",
            "missing person id",
            &["row 3", "\"person\"", "empty"],
        ),
        (
            "n,person,kind,at,cost,ok\n1,p1,impression,1,,\n",
            "a kind outside the declared values",
            &["row 1", "\"kind\"", "\"impression\"", "click, view"],
        ),
        (
            "n,person,kind,at,cost,ok\n1,p1,click,1,0.125,\n",
            "a decimal finer than its scale",
            &["row 1", "\"cost\"", "0.125", "at most 2 digits"],
        ),
        (
            "n,person,at,cost,ok\n1,p1,1,,\n",
            "a missing column",
            &["no column \"kind\""],
        ),
        (
            "n,person,kind,at,cost,ok\n1,p1,click\n",
            "a short row",
            &["row 1", "3 fields"],
        ),
    ];
    for (i, (csv, what, needles)) in cases.into_iter().enumerate() {
        let input = s.path(&format!("bad{i}.csv"));
        std::fs::write(&input, csv).unwrap();
        let message = s.refused(&input, |_| true);
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: {message:?} lacks {needle:?}"
            );
        }
        assert!(message.contains("nothing was sealed"), "{message}");
    }
    // Batches are numbered on: a bad value far down is named by its row in the file.
    let mut long = String::from("n,person,kind,at,cost,ok\n");
    for i in 1..=200_000 {
        let kind = if i == 150_001 { "View" } else { "view" };
        long.push_str(&format!("{i},p{i},{kind},{i},,\n"));
    }
    let input = s.path("long.csv");
    std::fs::write(&input, long).unwrap();
    let message = s.refused(&input, |e| {
        matches!(
            e,
            SourceError::Table(TableError::NotAllowed { row: 150_001, .. })
        )
    });
    assert!(message.contains("row 150001"), "{message}");
}

fn columnar_batch(cost: Vec<f64>) -> RecordBatch {
    let n = cost.len();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "person",
            Arc::new(StringArray::from(
                (0..n).map(|i| format!("p{i}")).collect::<Vec<_>>(),
            )),
        ),
        (
            "n",
            Arc::new(Int32Array::from((0..n as i32).collect::<Vec<_>>())),
        ),
        ("kind", Arc::new(StringArray::from(vec!["view"; n]))),
        (
            "at",
            Arc::new(
                TimestampMillisecondArray::from(
                    (0..n as i64).map(|i| i * 1500).collect::<Vec<_>>(),
                )
                .with_timezone("+02:00"),
            ),
        ),
        ("cost", Arc::new(Float64Array::from(cost))),
        ("ok", Arc::new(BooleanArray::from(vec![true; n]))),
        ("unused", Arc::new(Int32Array::from(vec![0; n]))),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

type WriteFile = fn(&Path, &RecordBatch);

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn write_arrow_file(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

fn write_arrow_stream(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

#[test]
fn parquet_and_arrow_files_convert_exactly_or_name_the_row() {
    let s = setup();
    let good = columnar_batch(vec![12.34, 0.5, -3.0]);
    let writers: [(&str, WriteFile); 3] = [
        ("touches.parquet", write_parquet),
        ("touches.arrow", write_arrow_file),
        ("touches.arrows", write_arrow_stream),
    ];
    for (name, write) in writers {
        let input = s.path(name);
        write(&input, &good);
        let summary = s.seal(&input).unwrap();
        assert_eq!(summary.rows, 3, "{name}");
        assert_eq!(summary.ignored_columns, ["unused"], "{name}");
        let table = s.open(&summary);
        assert_eq!(
            table.numbers("cost", ColumnType::Decimal).unwrap().values(),
            [1234, 50, -300],
            "{name}"
        );
        assert_eq!(
            table.numbers("at", ColumnType::Timestamp).unwrap().values(),
            [0, 1_500_000, 3_000_000],
            "{name}"
        );
        assert_eq!(
            table.numbers("n", ColumnType::Integer).unwrap().values(),
            [0, 1, 2]
        );
        std::fs::remove_file(&summary.output).unwrap();

        // A float that is not a whole number of cents is refused, not rounded.
        let inexact = s.path(&format!("inexact-{name}"));
        write(&inexact, &columnar_batch(vec![1.0, 2.0, 12.345]));
        let message = s.refused(&inexact, |e| {
            matches!(
                e,
                SourceError::Table(TableError::Unparseable { row: 3, .. })
            )
        });
        assert!(
            message.contains("\"cost\"") && message.contains("12.345"),
            "{message}"
        );
        std::fs::remove_file(&inexact).unwrap();
    }
    assert_eq!(
        SourceFormat::of_path(Path::new("x.PARQUET")),
        Some(SourceFormat::Parquet)
    );
    let unknown = s.path("touches.txt");
    std::fs::write(&unknown, GOOD_CSV).unwrap();
    s.refused(&unknown, |e| matches!(e, SourceError::UnknownFormat));
    let options = SealOptions {
        format: Some(SourceFormat::Csv),
        chunk_size: None,
    };
    seal_dataset(
        &s.alice,
        &s.agreement,
        "touches",
        &unknown,
        &s.path("out.envelope"),
        &options,
        1_800_000_000_000,
        Box::new(|_| {}),
    )
    .unwrap();
}
