//! Times a PostgreSQL read alone: `cargo run --release -p strata-postgres --example spool_rate
//! -- URL QUERY [REPS]`. Spools the query's rows as `strata fit --from URL --query QUERY` does
//! (one binary COPY into an Arrow IPC file, here a temp file removed after each run) and prints
//! the median wall time and rows per second. Used by `bench/run.sh` (the PostgreSQL case,
//! beside `psql \copy` of the same query).

#![allow(
    clippy::unwrap_used,
    reason = "a measuring tool: a failure stops it where it happened"
)]

use std::io::BufWriter;
use std::time::Instant;

use strata_postgres::{Database, Selection, spool};

// The allocator the `strata` binary uses, so the figure is the binary's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: spool_rate URL QUERY [REPS]";
    let database = Database::parse(args.first().expect(usage)).unwrap();
    let selection = Selection::Query(args.get(1).expect(usage).clone());
    let reps: usize = args
        .get(2)
        .map_or(3, |r| r.parse().expect("REPS is a number"));
    let mut times = Vec::with_capacity(reps);
    let mut rows = 0;
    for _ in 0..reps {
        let file = tempfile::tempfile().unwrap();
        let start = Instant::now();
        let spooled = spool(&database, &selection, BufWriter::new(file), |_| {}).unwrap();
        times.push(start.elapsed().as_secs_f64());
        rows = spooled.rows;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{rows} rows, median {median:.3} s, {:.0} rows/s",
        rows as f64 / median
    );
}
