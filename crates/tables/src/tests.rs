//! Round trips and hand-crafted payloads that must be refused, naming what is wrong.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field};
use sealroom_core::schema::{Column, ColumnType, Schema};

use crate::payload::arrow_schema;
use crate::{PayloadWriter, TableError, read_payload};

fn schema() -> Schema {
    Schema {
        columns: vec![
            Column::new("person", ColumnType::String),
            Column::new("kind", ColumnType::String).one_of(["click", "view"]),
            Column::new("at", ColumnType::Timestamp),
            Column::decimal("value", 2).optional(),
            Column::new("n", ColumnType::Integer),
            Column::new("ok", ColumnType::Boolean).optional(),
        ],
        person_column: "person".into(),
    }
}

fn columns(people: &[&str], kinds: &[&str], values: Vec<Option<i128>>) -> Vec<ArrayRef> {
    let n = people.len();
    vec![
        Arc::new(StringArray::from(people.to_vec())),
        Arc::new(StringArray::from(kinds.to_vec())),
        Arc::new(
            TimestampMicrosecondArray::from((0..n as i64).collect::<Vec<_>>()).with_timezone("UTC"),
        ),
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(18, 2)
                .unwrap(),
        ),
        Arc::new(Int64Array::from((10..10 + n as i64).collect::<Vec<_>>())),
        Arc::new(BooleanArray::from(vec![Some(true); n])),
    ]
}

fn batch(columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(arrow_schema(&schema()), columns).unwrap()
}

fn write(batches: &[RecordBatch]) -> Result<Vec<u8>, TableError> {
    let mut writer = PayloadWriter::new(Vec::new(), &schema())?;
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()
}

#[test]
fn a_payload_round_trips_batch_by_batch_with_rows_numbered_across_batches() {
    let bytes = write(&[
        batch(columns(
            &["p1", "p2"],
            &["click", "view"],
            vec![Some(125), None],
        )),
        batch(columns(&["p3"], &["view"], vec![Some(-7)])),
    ])
    .unwrap();
    let table = read_payload(bytes.as_slice(), &schema()).unwrap();
    assert_eq!(table.len(), 3);
    assert_eq!(
        table.text("person").unwrap().iter().collect::<Vec<_>>(),
        ["p1", "p2", "p3"]
    );
    let values = table.numbers("value", ColumnType::Decimal).unwrap();
    assert_eq!(
        (0..3).map(|i| values.get(i)).collect::<Vec<_>>(),
        [Some(125), None, Some(-7)]
    );
    assert_eq!(
        table.numbers("n", ColumnType::Integer).unwrap().values(),
        [10, 11, 10]
    );
    assert_eq!(
        table.numbers("at", ColumnType::Timestamp).unwrap().values(),
        [0, 1, 0]
    );

    let err = write(&[
        batch(columns(&["p1", "p2"], &["click", "view"], vec![None, None])),
        batch(columns(&["p3", "p4"], &["view", "View"], vec![None, None])),
    ])
    .unwrap_err();
    assert!(
        matches!(&err, TableError::NotAllowed { row: 4, column, value, .. } if column == "kind" && value == "View"),
        "{err}"
    );
}

#[test]
fn empty_values_are_refused_in_required_columns_only() {
    let err = write(&[batch(columns(
        &["p1", ""],
        &["click", "view"],
        vec![None, None],
    ))])
    .unwrap_err();
    assert!(matches!(&err, TableError::EmptyValue { row: 2, column } if column == "person"));
    let err = write(&[batch(columns(
        &["p1", "p2"],
        &["", "view"],
        vec![None, None],
    ))])
    .unwrap_err();
    assert!(matches!(&err, TableError::EmptyValue { row: 1, column } if column == "kind"));
}

#[test]
fn errors_can_withhold_the_values_they_quote() {
    let err = write(&[batch(columns(&["p1"], &["secret-kind"], vec![None]))]).unwrap_err();
    assert!(err.to_string().contains("secret-kind"));
    let withheld = err.without_values().to_string();
    assert!(
        !withheld.contains("secret-kind") && withheld.contains("row 1"),
        "{withheld}"
    );
}

#[test]
fn decimals_beyond_eighteen_digits_are_refused() {
    let err = write(&[batch(columns(
        &["p1"],
        &["view"],
        vec![Some(10_i128.pow(18))],
    ))])
    .unwrap_err();
    assert!(
        matches!(err, TableError::Unparseable { row: 1, .. }),
        "{err}"
    );
}

/// A stream written by anyone, without the owner-side checks: what a malicious owner can seal.
fn raw_stream(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Vec<u8> {
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    writer.into_inner().unwrap()
}

#[test]
fn hand_crafted_payloads_that_do_not_match_the_schema_fail_cleanly() {
    let expected = arrow_schema(&schema());
    let good = columns(&["p1"], &["click"], vec![Some(1)]);

    // A column with another type.
    let mut fields: Vec<Field> = expected
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols = good.clone();
    fields[4] = Field::new("n", DataType::Utf8, false);
    cols[4] = Arc::new(StringArray::from(vec!["ten"]));
    let err = read_payload(raw_stream(fields, cols).as_slice(), &schema()).unwrap_err();
    assert!(
        matches!(&err, TableError::SchemaMismatch(m) if m.contains("\"n\"")),
        "{err}"
    );

    // A required column declared nullable, holding a null.
    let mut fields: Vec<Field> = expected
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols = good.clone();
    fields[0] = Field::new("person", DataType::Utf8, true);
    cols[0] = Arc::new(StringArray::from(vec![None::<&str>]));
    let err = read_payload(raw_stream(fields, cols).as_slice(), &schema()).unwrap_err();
    assert!(matches!(err, TableError::SchemaMismatch(_)), "{err}");

    // A value outside the declared list, which the owner-side writer would have refused.
    let fields: Vec<Field> = expected
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols = good.clone();
    cols[1] = Arc::new(StringArray::from(vec!["impression"]));
    let err = read_payload(raw_stream(fields, cols).as_slice(), &schema()).unwrap_err();
    assert!(
        matches!(err, TableError::NotAllowed { row: 1, .. }),
        "{err}"
    );

    // Missing and renamed columns.
    let fields: Vec<Field> = expected.fields()[..5]
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let err =
        read_payload(raw_stream(fields, good[..5].to_vec()).as_slice(), &schema()).unwrap_err();
    assert!(matches!(err, TableError::SchemaMismatch(_)), "{err}");

    // Not a stream at all, a truncated one, and every prefix of a good one.
    assert!(matches!(
        read_payload(&b"user_id,campaign\nu1,a\n"[..], &schema()),
        Err(TableError::Malformed(_) | TableError::Read(_))
    ));
    let good_bytes = write(&[batch(good.clone())]).unwrap();
    for cut in 0..good_bytes.len() {
        assert!(
            read_payload(&good_bytes[..cut], &schema()).is_err(),
            "a prefix of {cut} bytes was accepted"
        );
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let good = write(&[batch(columns(
        &["p1", "p2", "p3"],
        &["click", "view", "view"],
        vec![Some(1), None, Some(3)],
    ))])
    .unwrap();
    for i in 0..good.len() {
        for bit in [0x01, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            // Either refused, or (a flip in padding or in a value) read as a table that still
            // passes every check.
            if let Ok(table) = read_payload(bad.as_slice(), &schema()) {
                assert_eq!(table.len(), 3);
            }
        }
    }
}

#[test]
fn the_size_hint_sizes_the_table_and_never_changes_what_is_read() {
    let people: Vec<String> = (0..3_000).map(|i| format!("person-{}", i * 7919)).collect();
    let batches: Vec<RecordBatch> = people
        .chunks(1_000)
        .enumerate()
        .map(|(b, chunk)| {
            let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let kinds: Vec<&str> = (0..chunk.len())
                .map(|i| if (i + b) % 3 == 0 { "click" } else { "view" })
                .collect();
            let values = (0..chunk.len())
                .map(|i| (i % 5 != 0).then_some(i as i128))
                .collect();
            batch(columns(&names, &kinds, values))
        })
        .collect();
    let bytes = write(&batches).unwrap();
    let plain = read_payload(bytes.as_slice(), &schema()).unwrap();
    assert_eq!(plain.len(), 3_000);
    let size = bytes.len() as u64;
    for hint in [0, 1, size / 3, size, size * 100, u64::MAX] {
        let mut sized = crate::read_payload_sized(bytes.as_slice(), &schema(), Some(hint)).unwrap();
        let capacities: Vec<(usize, usize)> =
            sized.columns_mut().iter().map(|c| c.capacity()).collect();
        if hint == size {
            // Sized once from the first batch: a little more than needed, never a doubling
            // (which would leave 4000 or more rows of room).
            for (i, (rows, _)) in capacities.iter().enumerate() {
                assert!((3_000..3_750).contains(rows), "column {i}: room for {rows}");
            }
        }
        if hint >= size && hint < u64::MAX {
            let reserved: usize = capacities.iter().map(|(_, bytes)| bytes).sum();
            assert!(
                reserved as u64 <= 4 * hint,
                "{reserved} bytes reserved for a hint of {hint}"
            );
        }
        assert!(
            sized.booleans("ok").unwrap().len() == 3_000
                && (0..3_000).all(|i| sized.booleans("ok").unwrap().get(i)
                    == plain.booleans("ok").unwrap().get(i)),
            "ok with a hint of {hint}"
        );
        for column in ["person", "kind"] {
            assert!(
                sized
                    .text(column)
                    .unwrap()
                    .iter()
                    .eq(plain.text(column).unwrap().iter()),
                "{column} with a hint of {hint}"
            );
        }
        for (column, kind) in [
            ("at", ColumnType::Timestamp),
            ("value", ColumnType::Decimal),
            ("n", ColumnType::Integer),
        ] {
            assert_eq!(
                sized.numbers(column, kind).unwrap(),
                plain.numbers(column, kind).unwrap(),
                "{column} with a hint of {hint}"
            );
        }
    }
}

#[test]
fn the_first_bad_row_is_named_whichever_way_it_is_bad() {
    let fields: Vec<Field> = arrow_schema(&schema())
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let read = |kinds: &[&str]| {
        let cols = columns(&["p1", "p2", "p3"], kinds, vec![None, None, None]);
        read_payload(raw_stream(fields.clone(), cols).as_slice(), &schema()).unwrap_err()
    };
    let err = read(&["click", "", "impression"]);
    assert!(
        matches!(&err, TableError::EmptyValue { row: 2, column } if column == "kind"),
        "{err}"
    );
    let err = read(&["click", "impression", ""]);
    assert!(
        matches!(&err, TableError::NotAllowed { row: 2, column, .. } if column == "kind"),
        "{err}"
    );
}

#[test]
fn text_is_appended_only_at_value_boundaries() {
    let mut column = crate::TextColumn::default();
    column.extend("aébc", [1, 3, 5].into_iter()).unwrap();
    assert_eq!(column.iter().collect::<Vec<_>>(), ["a", "é", "bc"]);
    // Inside "é", past the end, and going backwards: refused, and nothing appended.
    for ends in [vec![2], vec![1, 6], vec![3, 1]] {
        let err = column.extend("aébc", ends.clone().into_iter()).unwrap_err();
        assert!(matches!(err, TableError::Malformed(_)), "{ends:?}: {err}");
        assert_eq!(column.len(), 3);
    }
    column.extend("xy", [0, 2].into_iter()).unwrap();
    assert_eq!(
        column.iter().collect::<Vec<_>>(),
        ["a", "é", "bc", "", "xy"]
    );
}

#[test]
fn sealing_refuses_more_text_or_rows_than_the_isolate_holds() {
    // 13 bytes of text per column and 4 rows here; 4 GiB and 2³² − 1 in a real writer.
    let mut writer = PayloadWriter::new(Vec::new(), &schema())
        .unwrap()
        .with_limits(13, 4);
    writer
        .write(&batch(columns(
            &["p1", "p2"],
            &["click", "view"],
            vec![None; 2],
        )))
        .unwrap();
    let err = writer
        .write(&batch(columns(
            &["p3", "p4"],
            &["view", "view"],
            vec![None; 2],
        )))
        .unwrap_err();
    assert!(
        matches!(&err, TableError::TooMuchText { column, .. } if column == "kind"),
        "{err}"
    );
    assert_eq!(writer.rows(), 2, "nothing of the refused batch is written");
    // The refused batch's text is not counted: a smaller one still fits, sliced or not.
    let more = batch(columns(&["p0", "p3"], &["click", "view"], vec![None; 2]));
    writer.write(&more.slice(1, 1)).unwrap();
    let err = writer
        .write(&batch(columns(
            &["p5", "p6"],
            &["view", "view"],
            vec![None; 2],
        )))
        .unwrap_err();
    assert!(matches!(err, TableError::TooManyRows(4)), "{err}");
    let bytes = writer.finish().unwrap();
    let table = read_payload(bytes.as_slice(), &schema()).unwrap();
    assert_eq!(
        table.text("kind").unwrap().iter().collect::<Vec<_>>(),
        ["click", "view", "view"]
    );
}

#[test]
fn a_sliced_batch_appends_only_its_own_rows() {
    let whole = batch(columns(
        &["p1", "p22", "p333", "p4444"],
        &["click", "view", "click", "view"],
        vec![Some(1), Some(2), Some(3), Some(4)],
    ));
    let mut table = crate::Table::new(schema());
    crate::payload::check_owner_batch(&schema(), &whole.slice(1, 2), 1, Some(&mut table)).unwrap();
    assert_eq!(
        table.text("person").unwrap().iter().collect::<Vec<_>>(),
        ["p22", "p333"]
    );
    assert_eq!(
        table.text("kind").unwrap().iter().collect::<Vec<_>>(),
        ["view", "click"]
    );
    assert_eq!(
        table.numbers("n", ColumnType::Integer).unwrap().values(),
        [11, 12]
    );
    // A second slice joins the first without its offsets' base leaking in.
    crate::payload::check_owner_batch(&schema(), &whole.slice(3, 1), 3, Some(&mut table)).unwrap();
    assert_eq!(
        table.text("person").unwrap().iter().collect::<Vec<_>>(),
        ["p22", "p333", "p4444"]
    );
}

#[test]
fn an_optional_column_with_allowed_values_takes_empty_strings_and_nulls_but_nothing_else() {
    let schema = Schema {
        columns: vec![
            Column::new("person", ColumnType::String),
            Column::new("arm", ColumnType::String)
                .one_of(["test", "control"])
                .optional(),
        ],
        person_column: "person".into(),
    };
    let fields = arrow_schema(&schema);
    let read = |arms: StringArray| {
        let people: Vec<String> = (1..=arrow_array::Array::len(&arms))
            .map(|i| format!("p{i}"))
            .collect();
        let batch = RecordBatch::try_new(
            fields.clone(),
            vec![Arc::new(StringArray::from(people)), Arc::new(arms)],
        )
        .unwrap();
        let mut table = crate::Table::new(schema.clone());
        crate::payload::check_owner_batch(&schema, &batch, 1, Some(&mut table)).map(|()| {
            table
                .text("arm")
                .unwrap()
                .iter()
                .map(String::from)
                .collect::<Vec<_>>()
        })
    };
    // Without nulls (the one-copy path) and with them (value by value).
    assert_eq!(
        read(StringArray::from(vec!["test", "", "control"])).unwrap(),
        ["test", "", "control"]
    );
    assert_eq!(
        read(StringArray::from(vec![Some("test"), None, Some("")])).unwrap(),
        ["test", "", ""]
    );
    for arms in [
        StringArray::from(vec!["", "test", "Test"]),
        StringArray::from(vec![None, Some("test"), Some("Test")]),
    ] {
        match read(arms).unwrap_err() {
            TableError::NotAllowed {
                row, column, value, ..
            } => {
                assert_eq!((row, column.as_str(), value.as_str()), (3, "arm", "Test"));
            }
            other => panic!("{other:?}"),
        }
    }
}
