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
        ColumnData::NotNumeric { first_text_line: 2 }
    );
}

#[test]
fn semicolon_files_with_decimal_commas_in_quotes() {
    let (h, t) = read(b"a;b\n1;\"2\"\n", |_| ReadPlan {
        columns: vec![(1, ParseAs::Numeric)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(h.delimiter, b';');
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
