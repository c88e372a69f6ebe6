//! Times CSV ingest alone: `cargo run --release -p strata-ingest --example ingest_rate -- FILE
//! [ID_COLUMN] [REPS]`. Reads every column but the id (`-`: none) as a number where every value
//! is one, else as categorical text (a first, untimed read finds which), as pandas.read_csv
//! types them, and prints the median wall time and MB/s of file parsed into columns. Used by
//! `bench/run.sh` (the "ingest alone" cases) and to keep `bench/NOTES.md`.

#![allow(
    clippy::unwrap_used,
    reason = "a measuring tool: a failure stops it where it happened"
)]

use std::path::Path;
use std::time::Instant;

use strata_ingest::{ColumnData, ParseAs, ReadPlan, read_header, read_table};

// The allocator the `strata` binary uses, so the figure is the binary's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = Path::new(
        args.first()
            .expect("usage: ingest_rate FILE [ID_COLUMN] [REPS]"),
    );
    let id_name = args.get(1).map(String::as_str).unwrap_or("id");
    let reps: usize = args
        .get(2)
        .map_or(3, |r| r.parse().expect("REPS is a number"));
    let header = read_header(path, None).expect("readable header");
    let id = header.position(id_name);
    assert!(
        id.is_some() || id_name == "-",
        "no column {id_name:?} (`-` for none)"
    );
    let others: Vec<usize> = (0..header.names.len()).filter(|&i| Some(i) != id).collect();
    let probe = ReadPlan {
        id_column: id,
        allow_duplicate_ids: false,
        columns: others.iter().map(|&i| (i, ParseAs::AutoNumeric)).collect(),
    };
    let probed = read_table(&header, &probe).expect("valid file");
    let plan = ReadPlan {
        columns: probed
            .columns
            .iter()
            .map(|c| match c.data {
                ColumnData::NotNumeric { .. } => (c.index, ParseAs::Text),
                _ => (c.index, ParseAs::Numeric),
            })
            .collect(),
        ..probe
    };
    let bytes = std::fs::metadata(path).expect("file size").len() as f64;
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..reps {
        let t = Instant::now();
        rows = read_table(&header, &plan).expect("valid file").n_rows;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "rows={rows} bytes={bytes:.0} threads={} median {median:.3} s, {:.0} MB/s",
        rayon::current_num_threads(),
        bytes / median / 1e6
    );
}
