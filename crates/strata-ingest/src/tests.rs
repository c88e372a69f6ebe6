//! Unit tests of ingest: delimiter sniffing, BOM, quoting, missing tokens, dates, ids kept as
//! bytes, errors that name file, line and column, and the same tables and errors at every
//! chunk size from 1 byte up.

use super::*;
use std::io::Write;

fn file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    f.write_all(content).unwrap();
    f
}

fn read(
    content: &[u8],
    plan: impl FnOnce(&Header) -> ReadPlan,
) -> Result<(Header, Table), IngestError> {
    let f = file(content);
    let h = read_header(f.path(), None)?;
    let p = plan(&h);
    let t = read_table(&h, &p)?;
    Ok((h, t))
}

#[test]
fn sniffs_delimiters() {
    assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
    assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n"), b';');
    assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
    assert_eq!(sniff_delimiter(b"\"x,y\";b\n1;2\n"), b';');
    assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
}

#[test]
fn reads_bom_quotes_missing_and_ids_untouched() {
    let csv = b"\xEF\xBB\xBFCustomerID,Name of thing,Age\n0001,\"Smith, J\",NA\n0002, x ,  42 \n";
    let (h, t) = read(csv, |h| ReadPlan {
        id_column: h.position("CustomerID"),
        columns: vec![(1, ParseAs::Text), (2, ParseAs::Numeric)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(h.names, vec!["CustomerID", "Name of thing", "Age"]);
    assert_eq!(t.n_rows, 2);
    let mut s = String::new();
    assert_eq!(t.ids.get(0, &mut s), b"0001");
    assert_eq!(
        t.columns[0].data,
        ColumnData::Categorical {
            codes: vec![0, 1],
            dict: vec!["Smith, J".into(), "x".into()]
        }
    );
    match &t.columns[1].data {
        ColumnData::Numeric(v) => {
            assert!(v[0].is_nan());
            assert_eq!(v[1], 42.0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t.lines, vec![2, 3]);
}

#[test]
fn missing_tokens() {
    for m in ["", "NA", "n/a", "NaN", "null", "NULL", "  "] {
        assert!(is_missing(m.as_bytes()), "{m:?}");
    }
    for v in ["0", "none", "-"] {
        assert!(!is_missing(v.as_bytes()), "{v:?}");
    }
}

#[test]
fn bad_number_names_file_line_column_and_value() {
    let err = read(b"id,age\n1,30\n2,thirty\n", |_| ReadPlan {
        columns: vec![(1, ParseAs::Numeric)],
        ..Default::default()
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(".csv, line 3, column 2 ('age'): expected a number, found 'thirty'"),
        "{msg}"
    );
    for inf in ["inf", "1e999"] {
        let csv = format!("age\n{inf}\n");
        assert!(matches!(
            read(csv.as_bytes(), |_| ReadPlan {
                columns: vec![(0, ParseAs::Numeric)],
                ..Default::default()
            }),
            Err(IngestError::BadValue { line: 2, .. })
        ));
    }
}

#[test]
fn empty_header_only_and_ragged() {
    let plan = |_: &Header| ReadPlan {
        columns: vec![(0, ParseAs::Numeric)],
        ..Default::default()
    };
    assert!(matches!(read(b"", plan), Err(IngestError::Empty { .. })));
    assert!(matches!(
        read(b"\xEF\xBB\xBF\n", plan),
        Err(IngestError::Empty { .. })
    ));
    assert!(matches!(
        read(b"a,b\n", plan),
        Err(IngestError::NoRows { .. })
    ));
    let err = read(b"a,b\n1,2\n3\n", plan).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::Ragged {
                line: 3,
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    // Blank lines are not customers.
    let (_, t) = read(b"a,b\n1,2\n\n3,4\n", plan).unwrap();
    assert_eq!(t.n_rows, 2);
}

#[test]
fn duplicate_ids_are_refused_unless_allowed_and_never_echoed() {
    let csv = b"id,x\nA7,1\nB2,2\nA7,3\n";
    let plan = |allow| {
        move |_: &Header| ReadPlan {
            id_column: Some(0),
            allow_duplicate_ids: allow,
            columns: vec![(1, ParseAs::Numeric)],
        }
    };
    let err = read(csv, plan(false)).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::DuplicateId {
                first_line: 2,
                line: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !err.to_string().contains("A7"),
        "ids must not be echoed: {err}"
    );
    assert_eq!(read(csv, plan(true)).unwrap().1.n_rows, 3);
}

#[test]
fn auto_numeric_sets_text_columns_aside() {
    let (_, t) = read(b"a,b\n1,x\n2,3\n", |_| ReadPlan {
        columns: vec![(0, ParseAs::AutoNumeric), (1, ParseAs::AutoNumeric)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(t.columns[0].data, ColumnData::Numeric(vec![1.0, 2.0]));
    assert_eq!(
        t.columns[1].data,
        ColumnData::NotNumeric {
            first_text_line: 2,
            numbers: 1,
            texts: 1
        }
    );
}

#[test]
fn text_cells_of_a_numeric_column_are_counted_across_chunks() {
    // Numbers, one text cell, then numbers again in later chunks: the counts say how numeric
    // the column is, for the caller to call the cell a mistake.
    let mut csv = b"a\n".to_vec();
    for i in 0..50_000 {
        csv.extend_from_slice(format!("{i}\n").as_bytes());
        if i == 10 {
            csv.extend_from_slice(b"oops\n");
        }
    }
    let path = std::env::temp_dir().join(format!("strata-ingest-count-{}.csv", std::process::id()));
    std::fs::write(&path, &csv).unwrap();
    let header = read_header(&path, None).unwrap();
    let t = read_table_chunked(
        &header,
        &ReadPlan {
            columns: vec![(0, ParseAs::AutoNumeric)],
            ..Default::default()
        },
        4096,
        &mut |_| {},
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        t.columns[0].data,
        ColumnData::NotNumeric {
            first_text_line: 13,
            numbers: 50_000,
            texts: 1
        }
    );
}

#[test]
fn semicolon_files_with_decimal_commas_in_quotes() {
    let (h, t) = read(b"a;b\n1;\"2\"\n", |_| ReadPlan {
        columns: vec![(1, ParseAs::Numeric)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(h.format.delimiter(), Some(b';'));
    assert_eq!(t.columns[0].data, ColumnData::Numeric(vec![2.0]));
}

#[test]
fn dates_parse_or_fail_clearly() {
    let (_, t) = read(b"d\n1970-01-02\n\n", |_| ReadPlan {
        columns: vec![(0, ParseAs::Date)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(t.columns[0].data, ColumnData::Numeric(vec![1.0]));
    let err = read(b"d\n12/1/10\n", |_| ReadPlan {
        columns: vec![(0, ParseAs::Date)],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2, column 1 ('d'): expected a date"),
        "{err}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_header(Path::new("/nonexistent/customers.csv"), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/customers.csv: cannot read"),
        "{err}"
    );
}

/// Parallel chunked reading gives exactly the sequential result (rows, lines, dictionary order,
/// ids) or the same first error, whatever the chunk size: tiny chunks put a cut inside every
/// kind of record, quoted newlines, escaped quotes, literal quotes and CRLF endings included.
#[test]
fn chunk_size_never_changes_the_result() {
    let cases: [&[u8]; 8] = [
        b"id,seg,x\nA,red,1\nB,\"blue\nsky\",2\n\nC,red,3\nD,\"say \"\"hi\"\"\",4\nE,5'10\",5\nF,green,NA\n",
        b"id,seg,x\r\nA,red,1\r\nB,blue,2\r\nC,red,3\r\n",
        b"\xEF\xBB\xBFid,seg,x\nA,b,1\nB,a,2\nC,c,3\nD,a,4",
        b"id,seg,x\nA,red,1\nB,blue,two\nC,red,3\n",
        b"id,seg,x\nA,red,1\nB,blue\nC,red,3\n",
        b"id,seg,x\nA,red,1\nB,blue,2\nA,red,3\n",
        b"id,seg,x\nA,red,1\nB,\"never closed,2\nC,red,3\n",
        b"id,\"multi\nline\",x\nA,red,1\nB,blue,2\n",
    ];
    for csv in cases {
        let f = file(csv);
        let h = read_header(f.path(), None).unwrap();
        let plan = ReadPlan {
            id_column: Some(0),
            columns: vec![
                (1, ParseAs::Text),
                (2, ParseAs::AutoNumeric),
                (2, ParseAs::Numeric),
            ],
            ..Default::default()
        };
        let whole = format!("{:?}", read_table_chunked(&h, &plan, 1 << 20, &mut |_| {}));
        for size in 1..csv.len() + 2 {
            let chunked = format!("{:?}", read_table_chunked(&h, &plan, size, &mut |_| {}));
            assert_eq!(
                chunked,
                whole,
                "chunk size {size} on {:?}",
                String::from_utf8_lossy(csv)
            );
        }
    }
}

/// The tables of a stream, put back together.
fn concat(tables: Vec<Table>) -> (Vec<u64>, Vec<Vec<u8>>, Vec<Vec<String>>) {
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    let mut cols = vec![Vec::new(); tables.first().map_or(0, |t| t.columns.len())];
    let mut scratch = String::new();
    for t in &tables {
        lines.extend_from_slice(&t.lines);
        ids.extend((0..t.n_rows).map(|i| t.ids.get(i, &mut scratch).to_vec()));
        for (c, col) in t.columns.iter().enumerate() {
            match &col.data {
                ColumnData::Numeric(v) => cols[c].extend(v.iter().map(|x| format!("{x:?}"))),
                ColumnData::Categorical { codes, dict } => {
                    // Each code names the same value in every later table's dictionary.
                    let last = tables.last().unwrap().columns[c].data.clone();
                    let ColumnData::Categorical { dict: all, .. } = last else {
                        panic!("a column changed kind")
                    };
                    assert_eq!(&all[..dict.len()], &dict[..]);
                    cols[c].extend(codes.iter().map(|x| format!("{x}")))
                }
                ColumnData::NotNumeric { .. } => cols[c] = vec!["not numeric".into()],
            }
        }
    }
    (lines, ids, cols)
}

/// A stream's tables hold, in order, exactly the rows of one whole read (or stop at the same
/// first error), whatever the chunk size; a sampled stream holds some of those rows, whole.
#[test]
fn streamed_tables_add_up_to_the_whole_table() {
    let csv = b"id,seg,x\nA,red,1\nB,\"blue\nsky\",2\n\nC,red,3\nD,\"say \"\"hi\"\"\",4\nE,green,NA\nF,red,6\nG,blue,7\nH,teal,8\n";
    let f = file(csv);
    let h = read_header(f.path(), None).unwrap();
    let plan = ReadPlan {
        id_column: Some(0),
        columns: vec![(1, ParseAs::Text), (2, ParseAs::Numeric)],
        ..Default::default()
    };
    let whole = read_table(&h, &plan).unwrap();
    let (lines, ids, cols) = concat(vec![whole]);
    for size in 1..csv.len() + 2 {
        let mut stream = TableStream::with_chunks(&h, &plan, 1, size).unwrap();
        let mut tables = Vec::new();
        while let Some(t) = stream.next_table().unwrap() {
            assert!(t.n_rows > 0);
            tables.push(t);
        }
        assert_eq!(stream.bytes_read(), csv.len() as u64, "chunk size {size}");
        assert_eq!(concat(tables), (lines.clone(), ids.clone(), cols.clone()));

        let mut sample = TableStream::with_chunks(&h, &plan, 3, size).unwrap();
        let mut seen = Vec::new();
        while let Some(t) = sample.next_table().unwrap() {
            seen.extend(t.lines);
        }
        assert!(!seen.is_empty() && seen.iter().all(|l| lines.contains(l)));
        if size < 12 {
            assert!(seen.len() < lines.len(), "chunk size {size}: {seen:?}");
        }
    }
    let bad = file(b"id,x\n1,5\n2,6\n3,oops\n");
    let h = read_header(bad.path(), None).unwrap();
    let plan = ReadPlan {
        columns: vec![(1, ParseAs::Numeric)],
        ..Default::default()
    };
    let mut stream = TableStream::with_chunks(&h, &plan, 1, 4).unwrap();
    let err = loop {
        match stream.next_table() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the bad value was not reported"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("line 4, column 2 ('x')"), "{err}");
}

#[test]
fn lines_count_from_the_header_in_chunks() {
    let f = file(b"id,x\n1,5\n\n2,6\n3,oops\n");
    let h = read_header(f.path(), None).unwrap();
    let plan = ReadPlan {
        columns: vec![(1, ParseAs::Numeric)],
        ..Default::default()
    };
    let err = read_table_chunked(&h, &plan, 3, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 5, column 2 ('x')"), "{err}");
    let f = file(b"id,x\n1,5\n2,\"6\n\"\n3,7\n");
    let h = read_header(f.path(), None).unwrap();
    let mut reported = Vec::new();
    let t = read_table_chunked(
        &h,
        &ReadPlan {
            columns: vec![(1, ParseAs::Text)],
            ..Default::default()
        },
        2,
        &mut |done| reported.push(done),
    )
    .unwrap();
    // Progress rises to the file's size.
    assert!(reported.windows(2).all(|w| w[0] < w[1]), "{reported:?}");
    assert_eq!(reported.last(), Some(&20));
    assert_eq!(t.lines, vec![2, 3, 5]);
}

#[test]
fn numbers_parse_as_the_standard_library_parses_them() {
    let cases = [
        "0",
        "-0",
        "+5",
        "42",
        " 42 ",
        "3.25",
        ".5",
        "5.",
        "-.5e3",
        "1e5",
        "1E-5",
        "1e+05",
        "123456789012345678901234567890",
        "0.1",
        "2.2250738585072014e-308",
        "1e400",
        "-1e400",
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "NaN",
        "",
        " ",
        "1,5",
        "1.2.3",
        "1e",
        "e5",
        "--1",
        "+-1",
        "0x10",
        "1_000",
        "١٢",
        "12abc",
        "1 2",
        "\u{a0}1",
        "+.5",
        "-.5",
        "-5.",
        "0.",
        "-0.0",
        ".",
        "-",
        "+",
        "-.",
        "00012.50",
        "9007199254740992",
        "9007199254740993",
        "900719925474099.3",
        "1234567890123456789",
        "0.1234567890123456789",
        "0.30000000000000004",
        "12345.678901234567890",
        "1.5\r",
    ];
    for c in cases {
        let std = c.trim_ascii().parse::<f64>().ok().filter(|x| x.is_finite());
        assert_eq!(
            parse_number(c.as_bytes()).map(f64::to_bits),
            std.map(f64::to_bits),
            "{c:?}"
        );
    }
    assert_eq!(parse_number(b"\xff1"), None);
}

/// The short-decimal path against the standard library on many random plain decimals: every
/// digit count from 1 to 22 (past the path's 19, and past 2^53), either side of the point.
#[test]
fn short_decimals_round_as_the_standard_library_rounds() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut text = String::new();
    for _ in 0..200_000 {
        text.clear();
        match next() % 3 {
            0 => text.push('-'),
            1 if next() % 4 == 0 => text.push('+'),
            _ => {}
        }
        let digits = 1 + next() as usize % 22;
        let point = next() as usize % (digits + 2);
        for i in 0..digits {
            if i == point {
                text.push('.');
            }
            text.push(char::from(b'0' + (next() % 10) as u8));
        }
        let std = text.parse::<f64>().ok();
        assert_eq!(
            parse_number(text.as_bytes()).map(f64::to_bits),
            std.map(f64::to_bits),
            "{text:?}"
        );
    }
}
