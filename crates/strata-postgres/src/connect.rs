//! Where the database is and how to sign in: a `postgresql://` URL completed from the
//! environment as libpq completes it (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`,
//! `PGPASSWORD`, then the password file), and the one text that names the database in every
//! message, with the password masked.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

use crate::PgError;

/// libpq's compiled-in socket folder on Debian and its derivatives.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const DEFAULT_PORT: u16 = 5432;
/// How long to wait for the server before calling it unreachable (libpq waits forever).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database to connect to. Its `Debug` and every message it appears in show [`shown`],
/// never the password.
///
/// [`shown`]: Database::shown
#[derive(Clone)]
pub struct Database {
    config: Config,
    shown: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Where the settings libpq reads from the environment come from: the process's environment
/// in use, a fixed map in tests.
pub trait Env {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process's environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Database {
    /// Parses `url` (`postgresql://user:password@host:port/database?param=value`, or libpq's
    /// `key=value` form) and fills what it leaves out from the process's environment.
    pub fn parse(url: &str) -> Result<Database, PgError> {
        Database::parse_with(url, &ProcessEnv)
    }

    /// [`Database::parse`] with the environment given.
    pub fn parse_with(url: &str, env: &dyn Env) -> Result<Database, PgError> {
        let url = url.trim();
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(PgError::Url {
                message: "expected a URL starting with postgresql:// (such as \
                          postgresql://user@host:5432/database)"
                    .into(),
            });
        }
        // The parser's messages name the option at fault, never the URL's text.
        let mut config = Config::from_str(url).map_err(|e| PgError::Url {
            message: e.to_string(),
        })?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(PgError::Url {
                message: "sslmode=require: this build of strata has no TLS support; connect \
                          over a local socket, an SSH tunnel or a TLS-terminating proxy"
                    .into(),
            });
        }
        let had_password = config.get_password().is_some();
        if config.get_hosts().is_empty() {
            match env.var("PGHOST") {
                Some(h) => {
                    for h in h.split(',') {
                        config.host(h);
                    }
                }
                None if Path::new(DEFAULT_SOCKET_DIR).is_dir() => {
                    config.host(DEFAULT_SOCKET_DIR);
                }
                None => {
                    config.host("localhost");
                }
            }
        }
        if config.get_ports().is_empty() {
            let port = match env.var("PGPORT") {
                Some(p) => p.parse().map_err(|_| PgError::Url {
                    message: format!("PGPORT is '{p}', not a port number"),
                })?,
                None => DEFAULT_PORT,
            };
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env
                .var("PGUSER")
                .or_else(|| env.var("USER"))
                .or_else(|| env.var("LOGNAME"))
                .ok_or_else(|| PgError::Url {
                    message: "no user name: give one in the URL (postgresql://user@host/db) or \
                              in PGUSER"
                        .into(),
                })?;
            config.user(&user);
        }
        let user = config.get_user().unwrap_or_default().to_owned();
        if config.get_dbname().is_none() {
            config.dbname(env.var("PGDATABASE").as_deref().unwrap_or(&user));
        }
        if config.get_connect_timeout().is_none() {
            let timeout = env
                .var("PGCONNECT_TIMEOUT")
                .and_then(|t| t.parse::<u64>().ok())
                .filter(|&t| t > 0)
                .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs);
            config.connect_timeout(timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("strata");
        }
        let host = config.get_hosts()[0].clone();
        let port = config.get_ports()[0];
        let dbname = config.get_dbname().unwrap_or_default().to_owned();
        if config.get_password().is_none() {
            let password = env.var("PGPASSWORD").or_else(|| {
                password_file(env)
                    .and_then(|f| lookup_password(&f, &host_key(&host), port, &dbname, &user))
            });
            if let Some(p) = password {
                config.password(p);
            }
        }
        let shown = show(&host, port, &user, &dbname, had_password);
        Ok(Database { config, shown })
    }

    /// The database as every message names it: `postgresql://user:***@host:port/database`
    /// (`:***` only when the URL itself held a password).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A connection, or an error that names the database (password masked) and says why.
    pub(crate) fn connect(&self) -> Result<Client, PgError> {
        self.config.connect(NoTls).map_err(|e| PgError::Connect {
            database: self.shown.clone(),
            message: crate::server_message(&e),
        })
    }
}

/// The host as the URL would write it.
fn host_key(host: &Host) -> String {
    match host {
        Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        Host::Unix(p) => p.display().to_string(),
    }
}

fn show(host: &Host, port: u16, user: &str, dbname: &str, had_password: bool) -> String {
    let password = if had_password { ":***" } else { "" };
    match host {
        Host::Tcp(h) if h.contains(':') => {
            format!("postgresql://{user}{password}@[{h}]:{port}/{dbname}")
        }
        Host::Tcp(h) => format!("postgresql://{user}{password}@{h}:{port}/{dbname}"),
        #[cfg(unix)]
        Host::Unix(p) => format!(
            "postgresql://{user}{password}@/{dbname}?host={}&port={port}",
            p.display()
        ),
    }
}

/// `PGPASSFILE`, else `~/.pgpass`, if it exists and only its owner can read it (libpq ignores
/// a password file others can read, and so does this, with a warning).
fn password_file(env: &dyn Env) -> Option<PathBuf> {
    let path = match env.var("PGPASSFILE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env.var("HOME")?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file {} can be read by others (it should be chmod 0600); not used",
                path.display()
            );
            return None;
        }
    }
    meta.is_file().then_some(path)
}

/// The password for a connection from a libpq password file: the first line whose
/// `host:port:database:user` fields match (`*` matches anything; `localhost` matches a
/// socket; `\:` and `\\` are a literal colon and backslash).
fn lookup_password(file: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    let socket = host.starts_with('/');
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        let [h, p, d, u, password] = fields.as_slice() else {
            continue;
        };
        let matches = |field: &str, value: &str| field == "*" || field == value;
        let host_ok = matches(h, host) || (socket && h == "localhost");
        if host_ok && matches(p, &port) && matches(d, dbname) && matches(u, user) {
            return Some(password.clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("never empty").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, String>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> Vars {
        Vars(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    #[test]
    fn the_password_is_masked_in_what_is_shown() {
        let db =
            Database::parse_with("postgresql://ana:s3cret@db.example:6543/crm", &env(&[])).unwrap();
        assert_eq!(db.shown(), "postgresql://ana:***@db.example:6543/crm");
        assert!(!format!("{db:?}").contains("s3cret"));
        assert_eq!(db.config.get_password(), Some(&b"s3cret"[..]));
    }

    #[test]
    fn what_the_url_leaves_out_comes_from_the_environment() {
        let e = env(&[
            ("PGHOST", "/tmp/pg"),
            ("PGPORT", "5433"),
            ("PGUSER", "etl"),
            ("PGDATABASE", "shop"),
            ("PGPASSWORD", "pw"),
        ]);
        let db = Database::parse_with("postgresql://", &e).unwrap();
        assert_eq!(db.shown(), "postgresql://etl@/shop?host=/tmp/pg&port=5433");
        assert_eq!(db.config.get_password(), Some(&b"pw"[..]));
        assert_eq!(
            db.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
        // The URL wins over the environment (a host it names comes with port 5432 unless it
        // says otherwise: the URL parser fills it in).
        let db = Database::parse_with("postgresql://ana@h/x", &e).unwrap();
        assert_eq!(db.shown(), "postgresql://ana@h:5432/x");
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\nh:5432:crm:ana:first\n*:*:*:ana:a\\:b\\\\c\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = env(&[("PGPASSFILE", file.to_str().unwrap())]);
        let pw = |url: &str| {
            Database::parse_with(url, &e)
                .unwrap()
                .config
                .get_password()
                .map(|p| String::from_utf8(p.to_vec()).unwrap())
        };
        assert_eq!(pw("postgresql://ana@h/crm").as_deref(), Some("first"));
        assert_eq!(pw("postgresql://ana@h/shop").as_deref(), Some("a:b\\c"));
        assert_eq!(pw("postgresql://bob@h/crm"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(
                pw("postgresql://ana@h/crm"),
                None,
                "a file others can read is ignored"
            );
        }
    }

    #[test]
    fn not_a_url_is_refused_without_echoing_it() {
        let e = Database::parse_with("mysql://u:hunter2@h/x", &env(&[])).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Database::parse_with("postgresql://u:hunter2@h/x?sslmode=bogus", &env(&[]))
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Database::parse_with("postgresql://u@h/x?sslmode=require", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("TLS"), "{e}");
    }
}
