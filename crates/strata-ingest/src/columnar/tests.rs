//! Columnar inputs against the CSV reader: the same data as CSV, Parquet (one file, several row
//! groups, a folder of parts, each codec) and Arrow IPC (file and stream) gives the same
//! table; bad values, wrong types and damaged files give errors that say where.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{
    ColumnData, Format, Header, IngestError, ParseAs, ReadPlan, Table, TableStream, read_header,
    read_table, read_table_sampled,
};

const ROWS: usize = 10;

/// The rows as CSV text: what a columnar file of [`batch`] must read as.
const CSV: &str = "\
id,amount,visits,city,tier,joined,balance,seen
101,1.5,3,Paris,gold,2024-01-02,12.34,2024-01-02 10:00:00
102,,4, Lyon ,silver,2024-02-29,-0.50,2024-02-29 23:59:59
103,2.25,,NA,gold,,100.00,
104,-3,7,Paris,,2023-12-31,0.01,2023-12-31 00:00:00
105,0.1,1,Nice,bronze,2020-06-15,7.00,2020-06-15 12:30:15
106,1e3,2,Lyon,gold,2021-01-01,-12.34,2021-01-01 01:02:03
107,5,0,,silver,2022-02-02,3.33,2022-02-02 02:02:02
108,6.5,9,Paris,gold,2019-09-09,9.99,2019-09-09 09:09:09
109,7,5,Nice,bronze,2018-08-08,8.88,2018-08-08 08:08:08
110,8,6,Lyon,gold,2017-07-07,0.00,2017-07-07 07:07:07
";

fn days(date: &str) -> i32 {
    crate::parse_iso_date(date).map_or(0, |d| d as i32)
}

/// [`CSV`] as typed Arrow columns, as pyarrow or Spark would write it.
fn batch() -> RecordBatch {
    let rows: Vec<Vec<&str>> = CSV
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let col = |i: usize| rows.iter().map(move |r| r[i]);
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(
        col(0).map(|v| v.parse().unwrap()),
    ));
    let amount: ArrayRef = Arc::new(Float64Array::from_iter(
        col(1).map(|v| v.parse::<f64>().ok()),
    ));
    let visits: ArrayRef = Arc::new(Int32Array::from_iter(col(2).map(|v| v.parse().ok())));
    // Text as written, the missing token and the spaces included: the reader trims and
    // reads "NA" and "" as missing, as the CSV reader does.
    let city: ArrayRef = Arc::new(StringArray::from_iter_values(col(3)));
    let mut tier = StringDictionaryBuilder::<Int32Type>::new();
    for v in col(4) {
        if v.is_empty() {
            tier.append_null();
        } else {
            tier.append_value(v);
        }
    }
    let tier: ArrayRef = Arc::new(tier.finish());
    let joined: ArrayRef = Arc::new(Date32Array::from_iter(
        col(5).map(|v| (!v.is_empty()).then(|| days(v))),
    ));
    let balance: ArrayRef = Arc::new(
        Decimal128Array::from_iter(
            col(6).map(|v| Some(v.replace('.', "").parse::<i128>().unwrap())),
        )
        .with_precision_and_scale(10, 2)
        .unwrap(),
    );
    let seen: ArrayRef =
        Arc::new(TimestampSecondArray::from_iter(col(7).map(|v| {
            crate::parse_iso_date(v).map(|d| (d * 86_400.0).round() as i64)
        })));
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("amount", DataType::Float64, true),
        Field::new("visits", DataType::Int32, true),
        Field::new("city", DataType::Utf8, false),
        Field::new(
            "tier",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("joined", DataType::Date32, true),
        Field::new("balance", DataType::Decimal128(10, 2), false),
        Field::new("seen", DataType::Timestamp(TimeUnit::Second, None), true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![id, amount, visits, city, tier, joined, balance, seen],
    )
    .unwrap()
}

fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize, codec: Compression) {
    write_parquet_batches(path, std::slice::from_ref(batch), group_rows, codec);
}

fn write_parquet_batches(
    path: &Path,
    batches: &[RecordBatch],
    group_rows: usize,
    codec: Compression,
) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .set_compression(codec)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn write_ipc(path: &Path, batch: &RecordBatch, stream: bool) {
    let file = std::fs::File::create(path).unwrap();
    let schema = batch.schema();
    // Three record batches, so batch boundaries are crossed.
    let pieces = [
        batch.slice(0, 3),
        batch.slice(3, 3),
        batch.slice(6, ROWS - 6),
    ];
    if stream {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(file, &schema).unwrap();
        pieces.iter().for_each(|b| w.write(b).unwrap());
        w.finish().unwrap();
    } else {
        let mut w = arrow_ipc::writer::FileWriter::try_new(file, &schema).unwrap();
        pieces.iter().for_each(|b| w.write(b).unwrap());
        w.finish().unwrap();
    }
}

/// Every column of the schema, each read as its role would read it.
fn plan(h: &Header) -> ReadPlan {
    let p = |n: &str| h.position(n).unwrap();
    ReadPlan {
        id_column: Some(p("id")),
        allow_duplicate_ids: false,
        columns: vec![
            (p("amount"), ParseAs::Numeric),
            (p("visits"), ParseAs::AutoNumeric),
            (p("city"), ParseAs::Text),
            (p("tier"), ParseAs::Text),
            (p("joined"), ParseAs::Date),
            (p("balance"), ParseAs::Numeric),
            (p("seen"), ParseAs::Date),
        ],
    }
}

fn csv_table(dir: &Path) -> Table {
    let path = dir.join("same.csv");
    std::fs::write(&path, CSV).unwrap();
    let h = read_header(&path, None).unwrap();
    read_table(&h, &plan(&h)).unwrap()
}

/// Tables equal but for where the rows are (lines in a CSV file, rows in a columnar one).
fn assert_same(columnar: &Table, csv: &Table) {
    assert_eq!(columnar.n_rows, csv.n_rows);
    assert_eq!(columnar.ids, csv.ids);
    for (a, b) in columnar.columns.iter().zip(&csv.columns) {
        assert_eq!(a.name, b.name);
        match (&a.data, &b.data) {
            (ColumnData::Numeric(x), ColumnData::Numeric(y)) => {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(x), bits(y), "column {}", a.name);
            }
            (x, y) => assert_eq!(x, y, "column {}", a.name),
        }
    }
    assert_eq!(columnar.lines, (1..=csv.n_rows as u64).collect::<Vec<_>>());
}

#[test]
fn parquet_and_arrow_read_as_the_same_csv_does() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_table(dir.path());
    let b = batch();
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4_RAW,
        Compression::GZIP(Default::default()),
    ];
    for (i, codec) in codecs.into_iter().enumerate() {
        for group_rows in [ROWS, 3, 1] {
            let path = dir.path().join(format!("t{i}_{group_rows}.parquet"));
            write_parquet(&path, &b, group_rows, codec);
            let h = read_header(&path, Some(b';')).unwrap();
            assert_eq!(h.format, Format::Parquet);
            assert_eq!(h.names[0], "id");
            assert_same(&read_table(&h, &plan(&h)).unwrap(), &csv);
        }
    }
    for (stream, format) in [(false, Format::ArrowFile), (true, Format::ArrowStream)] {
        let path = dir.path().join(format!("t_{stream}.arrow"));
        write_ipc(&path, &b, stream);
        let h = read_header(&path, None).unwrap();
        assert_eq!(h.format, format);
        assert_same(&read_table(&h, &plan(&h)).unwrap(), &csv);
    }
}

/// A folder of parts as Spark writes it: parts in name order, `_SUCCESS` and hidden checksum
/// files left alone; a stream over it gives every row once, in order.
#[test]
fn a_folder_of_parts_is_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_table(dir.path());
    let parts = dir.path().join("customers.parquet");
    std::fs::create_dir(&parts).unwrap();
    let b = batch();
    write_parquet(
        &parts.join("part-00001.snappy.parquet"),
        &b.slice(4, 6),
        2,
        Compression::SNAPPY,
    );
    write_parquet(
        &parts.join("part-00000.snappy.parquet"),
        &b.slice(0, 4),
        3,
        Compression::SNAPPY,
    );
    std::fs::write(parts.join("_SUCCESS"), "").unwrap();
    std::fs::write(parts.join(".part-00000.snappy.parquet.crc"), "junk").unwrap();
    let h = read_header(&parts, None).unwrap();
    assert_eq!(h.format, Format::Parquet);
    let p = plan(&h);
    assert_same(&read_table(&h, &p).unwrap(), &csv);
    let mut stream = TableStream::new(&h, &p).unwrap();
    let mut lines = Vec::new();
    while let Some(t) = stream.next_table().unwrap() {
        lines.extend(t.lines);
    }
    assert_eq!(lines, (1..=ROWS as u64).collect::<Vec<_>>());
    assert_eq!(stream.bytes_read(), stream.file_bytes());
    // One row group in every two, as a streamed fit's sample reads: groups 1 and 3 of the
    // first part (rows 1-3 and none), group 2 of the second (rows 7-8)... whole groups only.
    let sample = read_table_sampled(
        &h,
        &ReadPlan {
            allow_duplicate_ids: true,
            ..p
        },
        2,
        &mut |_| {},
    )
    .unwrap();
    assert!(
        sample.n_rows > 0 && sample.n_rows < ROWS,
        "{}",
        sample.n_rows
    );

    // What a held read would need is the decoded size: a column of 100,000 equal numbers
    // compresses to almost nothing, and is 800 kB held.
    let same = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![7; 100_000]))],
    )
    .unwrap();
    let small = dir.path().join("small.parquet");
    write_parquet(&small, &same, 100_000, Compression::SNAPPY);
    assert!(
        crate::input_bytes(&small) < 20_000,
        "{}",
        crate::input_bytes(&small)
    );
    assert!(
        crate::decoded_bytes(&small) >= 800_000,
        "{}",
        crate::decoded_bytes(&small)
    );
    assert_eq!(
        crate::decoded_bytes(&dir.path().join("same.csv")),
        CSV.len() as u64
    );

    // A part with other columns is named.
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    write_parquet(
        &parts.join("part-00002.parquet"),
        &other,
        10,
        Compression::SNAPPY,
    );
    let e = read_header(&parts, None).unwrap_err().to_string();
    assert!(e.contains("part-00002.parquet has the columns [x]"), "{e}");
}

#[test]
fn bad_values_wrong_types_and_damaged_files_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch();
    let path = dir.path().join("t.parquet");
    write_parquet(&path, &b, 4, Compression::SNAPPY);
    let h = read_header(&path, None).unwrap();
    let col = |n: &str| h.position(n).unwrap();

    // Text bound to a number: parsed as CSV fields are, an error at the first word.
    let e = read_table(
        &h,
        &ReadPlan {
            columns: vec![(col("city"), ParseAs::Numeric)],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, IngestError::BadCell(c) if (c.group, c.row, c.column) == (1, 1, 4) && c.value == "Paris"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}, row group 1, row 1, column 4 ('city'): expected a number, found 'Paris'",
            path.display()
        )
    );
    // A timestamp is not a number; a number is not a date.
    for (name, how, expected) in [
        ("seen", ParseAs::Numeric, "expected a number"),
        ("visits", ParseAs::Date, "expected a date"),
    ] {
        let e = read_table(
            &h,
            &ReadPlan {
                columns: vec![(col(name), how)],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!("('{name}') is of type")) && e.contains(expected),
            "{e}"
        );
    }
    // "Every numeric column" sets a text or date column aside, whatever its values look like.
    let t = read_table(
        &h,
        &ReadPlan {
            columns: vec![
                (col("city"), ParseAs::AutoNumeric),
                (col("joined"), ParseAs::AutoNumeric),
            ],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        t.columns
            .iter()
            .all(|c| matches!(c.data, ColumnData::NotNumeric { numbers: 0, .. }))
    );

    // Repeated ids name the rows.
    let dup = dir.path().join("dup.parquet");
    write_parquet_batches(&dup, &[b.clone(), b.clone()], 7, Compression::SNAPPY);
    let hd = read_header(&dup, None).unwrap();
    let e = read_table(&hd, &plan(&hd)).unwrap_err().to_string();
    assert!(
        e.contains("duplicate id in column 'id' on rows 1 and 11"),
        "{e}"
    );

    // An infinity is no measure.
    let inf = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)])),
        vec![Arc::new(Float64Array::from(vec![1.0, f64::INFINITY]))],
    )
    .unwrap();
    let p = dir.path().join("inf.parquet");
    write_parquet(&p, &inf, 10, Compression::SNAPPY);
    let hi = read_header(&p, None).unwrap();
    let e = read_table(
        &hi,
        &ReadPlan {
            columns: vec![(0, ParseAs::Numeric)],
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("row 2, column 1 ('x'): expected a finite number"),
        "{e}"
    );

    // A truncated file: its footer is gone.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_header(&cut, None).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read as Parquet: ", cut.display())),
        "{e}"
    );

    // A truncated Arrow stream fails at the batch it cuts.
    let s = dir.path().join("t.arrows");
    write_ipc(&s, &b, true);
    let bytes = std::fs::read(&s).unwrap();
    std::fs::write(&s, &bytes[..bytes.len() - 200]).unwrap();
    let hs = read_header(&s, None).unwrap();
    let e = read_table(&hs, &plan(&hs)).unwrap_err().to_string();
    assert!(
        e.contains("cannot read as an Arrow IPC stream: record batch"),
        "{e}"
    );

    // An empty folder and a partitioned one.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("year=2024")).unwrap();
    let e = read_header(&empty, None).unwrap_err().to_string();
    assert!(e.contains("'year=2024' is a folder"), "{e}");
    std::fs::remove_dir(empty.join("year=2024")).unwrap();
    let e = read_header(&empty, None).unwrap_err().to_string();
    assert!(e.contains("holds no data files"), "{e}");

    // Record by record (how a transaction log is read): the CSV's fields, positions are
    // rows; a damaged file's decoder error comes through as it is.
    let mut records = crate::Records::open(&h).unwrap();
    let mut record = csv::ByteRecord::new();
    let want: Vec<&str> = CSV.lines().skip(1).collect();
    for (i, line) in want.iter().enumerate() {
        assert_eq!(records.next(&mut record).unwrap(), Some(i as u64 + 1));
        assert_eq!(&record[0], line.split(',').next().unwrap().as_bytes());
        assert_eq!(&record[3], line.split(',').nth(3).unwrap().as_bytes());
    }
    assert_eq!(records.next(&mut record).unwrap(), None);
    let full = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.parquet");
    let mut damaged = full.clone();
    // A data page's bytes overwritten: the footer still reads, the page does not.
    for b in &mut damaged[8..full.len() / 2] {
        *b = 0xAB;
    }
    std::fs::write(&cut, damaged).unwrap();
    // Whichever step meets the damage first (the footer, the first batch, a later one)
    // fails with the decoder's error.
    let e = match read_header(&cut, None).and_then(|h| crate::Records::open(&h)) {
        Err(e) => e.to_string(),
        Ok(mut records) => loop {
            match records.next(&mut record) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a damaged file read to its end"),
                Err(e) => break e.to_string(),
            }
        },
    };
    assert!(e.contains("cut.parquet: cannot read as Parquet"), "{e}");
}

/// A file pyarrow wrote (tests/fixtures/parquet/make.py): unsigned and decimal numbers, a
/// date, a timestamp with a time zone, a dictionary and text with the missing tokens read as
/// its CSV twin reads.
#[test]
fn a_pyarrow_file_reads_as_its_csv_twin() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parquet");
    let read = |name: &str| {
        let h = read_header(&fixtures.join(name), None).unwrap();
        let p = |n: &str| h.position(n).unwrap();
        let plan = ReadPlan {
            id_column: Some(p("id")),
            allow_duplicate_ids: false,
            columns: vec![
                (p("count"), ParseAs::AutoNumeric),
                (p("ratio"), ParseAs::Numeric),
                (p("price"), ParseAs::Numeric),
                (p("day"), ParseAs::Date),
                (p("at"), ParseAs::Date),
                (p("plan"), ParseAs::Text),
                (p("note"), ParseAs::Text),
            ],
        };
        read_table(&h, &plan).unwrap()
    };
    assert_same(&read("types.parquet"), &read("types.csv"));
}

/// Read back as CSV text ([`super::text`]): text needing quotes, a dictionary column,
/// integers of several widths, floats of both widths in their shortest form, booleans and
/// nulls; the same text from a Parquet file (several row groups), a folder of parts, an Arrow
/// IPC file and a stream; and `None` for a CSV file.
#[test]
fn columnar_files_read_back_as_csv_text() {
    use arrow_array::{BooleanArray, Float32Array, Int16Array};
    let mut labels = StringDictionaryBuilder::<Int32Type>::new();
    for l in ["a, b", "say \"x\"", "plain", "a, b"] {
        labels.append_value(l);
    }
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(StringArray::from(vec![
                Some("C1"),
                Some("two\nlines"),
                Some(""),
                Some("C4"),
            ])) as ArrayRef,
        ),
        ("label", Arc::new(labels.finish()) as ArrayRef),
        (
            "n",
            Arc::new(Int64Array::from(vec![
                Some(-5),
                None,
                Some(i64::MAX),
                Some(0),
            ])),
        ),
        ("s", Arc::new(Int16Array::from(vec![1, 2, 3, 4]))),
        (
            "f",
            Arc::new(Float32Array::from(vec![
                Some(0.1),
                Some(3.0),
                None,
                Some(1e-7),
            ])),
        ),
        (
            "d",
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(2.5),
                Some(-0.0),
                None,
            ])),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(false),
                Some(true),
            ])),
        ),
    ])
    .unwrap();
    let want = "id,label,n,s,f,d,b\n\
                C1,\"a, b\",-5,1,0.1,0.1,true\n\
                \"two\nlines\",\"say \"\"x\"\"\",,2,3,2.5,\n\
                ,plain,9223372036854775807,3,,-0,false\n\
                C4,\"a, b\",0,4,0.0000001,,true\n";
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("t.parquet");
    write_parquet(&parquet, &batch, 3, Compression::SNAPPY);
    assert_eq!(super::text::read_to_string(&parquet), want);
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    write_parquet(
        &parts.join("part-0.parquet"),
        &batch.slice(0, 1),
        3,
        Compression::UNCOMPRESSED,
    );
    write_parquet(
        &parts.join("part-1.parquet"),
        &batch.slice(1, 3),
        3,
        Compression::UNCOMPRESSED,
    );
    assert_eq!(super::text::read_to_string(&parts), want);
    for stream in [false, true] {
        let path = dir.path().join(format!("t{stream}.arrow"));
        let file = std::fs::File::create(&path).unwrap();
        if stream {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(file, &batch.schema()).unwrap();
            w.write(&batch.slice(0, 2)).unwrap();
            w.write(&batch.slice(2, 2)).unwrap();
            w.finish().unwrap();
        } else {
            let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(super::text::read_to_string(&path), want, "stream: {stream}");
    }
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, want).unwrap();
    assert!(super::text::columnar_as_csv(&csv).unwrap().is_none());
}

/// Dates, timestamps of every unit (before 1970 too, with and without a fraction) and
/// decimals of several scales read back as the text the CSV reader's ISO layout and number
/// parser read to the same values.
#[test]
fn dates_timestamps_and_decimals_read_back_as_iso_and_digits() {
    use arrow_array::{
        Date64Array, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    };
    let batch = RecordBatch::try_from_iter([
        (
            "d",
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(-1),
                Some(11_016),
                None,
            ])) as ArrayRef,
        ),
        (
            "d64",
            Arc::new(Date64Array::from(vec![
                0,
                -1,
                86_400_000 * 11_016 + 5,
                86_399_999,
            ])),
        ),
        (
            "s",
            Arc::new(
                TimestampSecondArray::from(vec![0, -1, 1_291_191_960, 59]).with_timezone("UTC"),
            ),
        ),
        (
            "ms",
            Arc::new(TimestampMillisecondArray::from(vec![
                1, -1, 1_500, 86_400_000,
            ])),
        ),
        (
            "us",
            Arc::new(TimestampMicrosecondArray::from(vec![
                1, 250_000, -1_000_000, 0,
            ])),
        ),
        (
            "ns",
            Arc::new(TimestampNanosecondArray::from(vec![1, 10, 999_999_999, 0])),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from(vec![Some(1234), Some(-5), Some(0), None])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        (
            "dec0",
            Arc::new(
                Decimal128Array::from(vec![12, -7, 0, 1])
                    .with_precision_and_scale(10, -2)
                    .unwrap(),
            ),
        ),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.arrows");
    let mut w = arrow_ipc::writer::StreamWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let want = "d,d64,s,ms,us,ns,dec,dec0\n\
        1970-01-01,1970-01-01,1970-01-01 00:00:00,1970-01-01 00:00:00.001,1970-01-01 00:00:00.000001,1970-01-01 00:00:00.000000001,12.34,1200\n\
        1969-12-31,1969-12-31,1969-12-31 23:59:59,1969-12-31 23:59:59.999,1970-01-01 00:00:00.25,1970-01-01 00:00:00.00000001,-0.05,-700\n\
        2000-02-29,2000-02-29,2010-12-01 08:26:00,1970-01-01 00:00:01.5,1969-12-31 23:59:59,1970-01-01 00:00:00.999999999,0.00,0\n\
        ,1970-01-01,1970-01-01 00:00:59,1970-01-02 00:00:00,1970-01-01 00:00:00,1970-01-01 00:00:00,,100\n";
    assert_eq!(super::text::read_to_string(&path), want);
    assert_eq!(
        crate::parse_iso_date("2010-12-01 08:26:00"),
        crate::parse_date(crate::DateFormat::Mdy, "12/1/10 8:26"),
        "a timestamp's text reads as the CSV's date"
    );
}
