//! PostgreSQL as a place customers come from and segments go to.
//!
//! - [`Database`]: a `postgresql://` URL completed from the environment as libpq completes it,
//!   shown everywhere with its password masked.
//! - [`spool`]: a table or query read by one binary `COPY` into an Arrow IPC file, which the
//!   pipeline then reads as any Arrow input (see [`read`] for why a spool).
//! - [`write_assignments`]: a run's assignments swapped into a table in one transaction, with
//!   a table of the customers who entered and left each segment.
//!
//! No TLS yet: `sslmode=require` is refused with a message saying so.

mod connect;
mod names;
pub mod read;
mod write;

pub use connect::{Database, Env, ProcessEnv};
pub use names::TableName;
pub use read::{Selection, Spooled, spool};
pub use write::{Written, write_assignments};

use std::path::PathBuf;

/// What can go wrong with a database. Every message names the database as
/// [`Database::shown`] does, never with its password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL cannot be used.
    #[error("bad database URL: {message}")]
    Url {
        /// What is wrong with it.
        message: String,
    },
    /// A table name that is not one.
    #[error("bad table name '{name}': {message}")]
    TableName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The query cannot be used.
    #[error("bad query: {message}")]
    Query {
        /// What is wrong with it.
        message: String,
    },
    /// No connection (unreachable, refused, wrong password…).
    #[error("cannot connect to {database}: {message}")]
    Connect {
        /// The database, password masked.
        database: String,
        /// The client's or the server's reason.
        message: String,
    },
    /// Reading the rows failed.
    #[error("cannot read {what} from {database}: {message}")]
    Read {
        /// The database, password masked.
        database: String,
        /// `table "name"` or `the query`.
        what: String,
        /// The server's reason.
        message: String,
    },
    /// A value the input cannot carry (an infinite date, a numeric NaN's kin).
    #[error("{database}, {what}: row {row}, column '{column}': {message}")]
    Value {
        /// The database, password masked.
        database: String,
        /// `table "name"` or `the query`.
        what: String,
        /// 1-based row in the result.
        row: u64,
        /// The column's name.
        column: String,
        /// What is wrong with the value.
        message: String,
    },
    /// The spool file could not be written.
    #[error("cannot write the rows read to a temporary file: {message}")]
    Spool {
        /// The Arrow writer's reason.
        message: String,
    },
    /// Writing the segments failed; the transaction was rolled back.
    #[error(
        "cannot write table {table} in {database}: {message} (nothing was changed: the table \
         and its changes table are as they were)"
    )]
    Write {
        /// The database, password masked.
        database: String,
        /// The destination table.
        table: String,
        /// The reason.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        error: std::io::Error,
    },
}

/// The server's message for a database error (with its detail and hint), or the client's.
pub(crate) fn server_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = db.message().to_owned();
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!("; hint: {h}"));
        }
        return m;
    }
    // The client's own errors chain their cause (connection refused, timed out…).
    let mut m = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !m.contains(&text) {
            m.push_str(&format!(": {text}"));
        }
        source = s.source();
    }
    m
}
