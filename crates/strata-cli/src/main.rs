//! `strata`: the command line over Strata's libraries. Parses flags (see [`args`]), turns them
//! into validated settings, calls the libraries, prints results. No segmentation logic here.

mod args;
mod database;
mod plugins;
mod progress;
mod summary;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command, LogFormat};

// Ingest parses chunks of a few MB on every thread and frees them as they merge; the system
// allocator returns each such block to the kernel and faults it back in, which cost a quarter of
// ingest's time. mimalloc keeps them. Plugins never free host memory (their ABI passes host
// buffers and sinks), so the host's allocator is its own business.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, v2 and v3 alike): how many
/// milliseconds freed memory stays committed before it goes back to the kernel (10 by default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the kernel at once. A fit frees large blocks (the parsed table
/// once the features are made, the ingest's chunk buffers) and then allocates others; with
/// mimalloc's delay those stayed committed, which put a 1M-row fit's peak at 460 MB instead of
/// 300 MB, for about 5% of its time.
fn purge_freed_memory_at_once() {
    // mimalloc's own setting, when given, stands.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one option's value, which mimalloc reads at its next purge; valid at any
    // time, and this runs first thing in main.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn init_logging(verbosity: i8, format: LogFormat) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn,strata_core=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("STRATA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_target(false)
        .without_time();
    match format {
        // One JSON object per line: level, fields (the message among them) and the span path.
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(threads) = cli.global.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(threads))
            .build_global()
            .context("cannot start the thread pool")?;
    }
    let search = || {
        let env = std::env::var_os("STRATA_PLUGIN_PATH");
        let found = strata_host::search_dirs(env.as_deref(), &cli.global.plugin_dirs);
        for r in &found.ignored {
            tracing::warn!("{}", r.reason);
        }
        found.dirs
    };
    // `strata plugins` loads every plugin file to list them.
    let registry = || strata_host::Registry::discover(&search());
    // A command that runs a strategy loads that strategy's file alone, when it asks for it.
    let strategies = || strata_host::Registry::on_demand(&search());
    let bars = || {
        progress::Bars::new(
            cli.global.quiet == 0
                && !cli.global.no_progress
                && cli.global.log_format == LogFormat::Text,
        )
    };
    match &cli.command {
        Command::Fit(fit) => {
            let source = database::Source::from_args(&fit.data.database)?;
            let destination = database::Destination::from_args(&fit.to, &fit.data.database)?;
            let bars = bars();
            let spool = source.as_ref().map(|s| s.spool(&bars)).transpose();
            let spool = finish_on_error(&bars, spool)?;
            let settings = finish_on_error(&bars, fit.to_settings(spooled(&spool)))?;
            let registry = strategies();
            let report = strata_core::fit_with_progress(&settings, &registry, &bars);
            bars.finish();
            let report = report
                .map_err(|e| failed("fit", &settings.output().folder, e))
                .map_err(|e| renamed(&spool, e))?;
            // The table before the summary: a closed stdout must not lose it.
            let mut wrote = Vec::new();
            if let Some(d) = &destination {
                d.write(&settings.output().folder, &mut wrote)?;
            }
            let mut out = std::io::stdout().lock();
            summary::print(&mut out, &report, settings.output().rules)?;
            out.write_all(&wrote)?;
            Ok(())
        }
        Command::ChooseK(c) => {
            let source = database::Source::from_args(&c.data.database)?;
            // Only for its checks of --table: choose-k writes no table.
            database::Destination::from_args(&args::ToArgs::default(), &c.data.database)?;
            let bars = bars();
            let spool = source.as_ref().map(|s| s.spool(&bars)).transpose();
            let spool = finish_on_error(&bars, spool)?;
            let settings = finish_on_error(&bars, c.to_settings(spooled(&spool)))?;
            let registry = strategies();
            let selection = strata_core::choose_k(&settings, &registry, &bars);
            bars.finish();
            let selection = selection
                .context("strata choose-k failed")
                .map_err(|e| renamed(&spool, e))?;
            // Files first: a closed stdout must not lose them.
            if let Some(path) = &c.json {
                strata_core::write_file_atomically(path, |w| {
                    strata_core::write_json(&selection, w)
                })
                .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let mut out = std::io::stdout().lock();
            summary::print_k_selection(&mut out, &selection)?;
            if let Some(path) = &c.json {
                writeln!(out, "wrote {}", path.display())?;
            }
            Ok(())
        }
        Command::Assign(a) => {
            // `--out -`: the run is made in a temp folder and its assignments file copied to
            // standard output once it is committed, so a failed run writes no rows there (a
            // reader of the pipe sees nothing or everything) and the summary goes to stderr.
            let to_stdout = a.out.as_os_str() == "-";
            let stdout_run = if to_stdout {
                let dir = tempfile::Builder::new()
                    .prefix("strata-assign.")
                    .tempdir()
                    .context("cannot create a temporary folder for --out -")?;
                Some(dir)
            } else {
                None
            };
            let out_dir = stdout_run
                .as_ref()
                .map_or_else(|| a.out.clone(), |d| d.path().join("run"));
            let shown_out = if to_stdout {
                std::path::PathBuf::from("standard output")
            } else {
                a.out.clone()
            };
            let source = database::Source::from_args(&a.database)?;
            let destination = database::Destination::from_args(&a.to, &a.database)?;
            let bars = bars();
            let spool = source.as_ref().map(|s| s.spool(&bars)).transpose();
            let spool = finish_on_error(&bars, spool)?;
            // A pipe is read once, into a temporary file the scoring then reads as usual.
            let piped = match &a.input {
                Some(input) => finish_on_error(&bars, spool_if_pipe(input))?,
                None => None,
            };
            let (input, origin) = match (&spool, &piped, &a.input) {
                (Some(s), _, _) => (s.path(), Some(s.origin.clone())),
                (None, Some((t, _)), Some(given)) => (
                    t.path(),
                    Some(strata_core::Origin {
                        name: given.display().to_string(),
                        format: None,
                    }),
                ),
                (None, None, Some(given)) => (given.as_path(), None),
                (None, _, None) => unreachable!("clap requires NEW or --from"),
            };
            let settings = finish_on_error(&bars, a.to_settings(input, origin, &out_dir))?;
            let registry = strategies();
            let report = strata_core::assign_with_progress(&settings, &registry, &bars);
            bars.finish();
            let report = report
                .map_err(|e| failed("assign", &shown_out, e))
                .map_err(|e| renamed(&spool, e))?;
            let mut wrote = Vec::new();
            if let Some(d) = &destination {
                d.write(&settings.out, &mut wrote)?;
            }
            if let Some(path) = &a.partial {
                let from = settings.out.join(strata_core::PARTIAL_FILE);
                let bytes = std::fs::read(&from)
                    .with_context(|| format!("cannot read {}", from.display()))?;
                strata_core::write_file_atomically(path, |w| w.write_all(&bytes))
                    .with_context(|| format!("cannot write --partial {}", path.display()))?;
                if stdout_run.is_none() {
                    wrote.extend(format!("wrote {}\n", path.display()).bytes());
                }
            }
            if stdout_run.is_some() {
                let rows = settings.out.join(settings.format.file_name());
                let mut file = std::fs::File::open(&rows)
                    .with_context(|| format!("cannot read {}", rows.display()))?;
                let mut out = std::io::stdout().lock();
                std::io::copy(&mut file, &mut out).context("writing to standard output")?;
                out.flush().context("writing to standard output")?;
                let mut err = std::io::stderr().lock();
                // The temp folder's files are gone when this returns: not "wrote" them.
                let report = strata_core::AssignReport {
                    written: Vec::new(),
                    ..report
                };
                summary::print_assign(&mut err, &report)?;
                err.write_all(&wrote)?;
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            summary::print_assign(&mut out, &report)?;
            out.write_all(&wrote)?;
            Ok(())
        }
        Command::Merge(m) => {
            let mut settings = strata_core::MergeSettings::new(
                &m.model,
                m.parts.clone(),
                &m.out,
                m.input_name.clone(),
            )?;
            settings.force = m.force;
            let report = strata_core::merge(&settings).map_err(|e| failed("merge", &m.out, e))?;
            summary::print_merge(&mut std::io::stdout().lock(), &report)?;
            Ok(())
        }
        Command::Transform(t) => part_command(&t.part, &t.out, |input, out| {
            let bars = bars();
            let r = strata_core::transform(input, out, t.format.into(), &strategies(), &bars);
            bars.finish();
            let r = r.map_err(|e| failed("transform", &t.out, e))?;
            Ok(format!(
                "Transformed {} of {} customers into {} features.",
                r.rows_written, r.rows, r.d
            ))
        }),
        Command::Step(s) => part_command(&s.part, &s.out, |input, out| {
            let bars = bars();
            let r = strata_core::step(input, out, s.backend.into(), &strategies(), &bars);
            bars.finish();
            let r = r.map_err(|e| failed("step", &s.out, e))?;
            Ok(format!(
                "One Lloyd pass over {} of {} customers.",
                r.rows_used, r.rows
            ))
        }),
        Command::Recenter(r) => {
            let from = match &r.centroids {
                Some(path) => strata_core::NewCentroids::File(path.clone()),
                None => strata_core::NewCentroids::Steps(r.steps.clone()),
            };
            let report = strata_core::recenter(&r.model, &from, r.tol, &r.out)
                .map_err(|e| failed("recenter", &r.out, e))?;
            let f = &report.file;
            let mut out = std::io::stdout().lock();
            match f.threshold {
                Some(t) => writeln!(
                    out,
                    "Centroids moved by {:.6e} (squared), {} the stopping threshold {t:.6e}: {}.",
                    f.shift,
                    if f.converged { "within" } else { "above" },
                    if f.converged {
                        "converged"
                    } else {
                        "run another step"
                    }
                )?,
                None => writeln!(
                    out,
                    "Centroids replaced (moved by {:.6e}, squared).",
                    f.shift
                )?,
            }
            if !f.empty.is_empty() {
                writeln!(
                    out,
                    "Centroids with no rows, left where they were: {:?}.",
                    f.empty
                )?;
            }
            for p in &report.written {
                writeln!(out, "wrote {}", p.display())?;
            }
            Ok(())
        }
        Command::ExportSql(e) => {
            let sql = strata_core::export_sql(&e.model, e.dialect.into(), &e.table, &strategies())
                .context("strata export-sql failed")?;
            match &e.out {
                Some(path) => {
                    strata_core::write_file_atomically(path, |w| w.write_all(sql.as_bytes()))
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    writeln!(std::io::stdout(), "wrote {}", path.display())?;
                }
                None => std::io::stdout().write_all(sql.as_bytes())?,
            }
            Ok(())
        }
        Command::Compare(c) => {
            let a = strata_compare::read_run(&c.a).context("reading RUN_A")?;
            let b = strata_compare::read_run(&c.b).context("reading RUN_B")?;
            let comparison = strata_compare::compare(&a, &b).context("strata compare failed")?;
            for w in &comparison.warnings {
                tracing::warn!("{w}");
            }
            // Files first: a closed stdout must not lose them.
            let written = match &c.out {
                Some(dir) => strata_compare::write_comparison(dir, &comparison, || {
                    tracing::warn!(
                        "another strata run is writing to {}; waiting for it to finish",
                        dir.display()
                    );
                })
                .with_context(|| format!("strata compare: cannot write to {}", dir.display()))?,
                None => Vec::new(),
            };
            let mut out = std::io::stdout().lock();
            summary::print_compare(&mut out, &comparison)?;
            for p in written {
                writeln!(out, "wrote {}", p.display())?;
            }
            Ok(())
        }
        Command::Plugins(p) => plugins::run(&mut std::io::stdout().lock(), p, &registry()),
        Command::Synth(s) => synth(s),
        Command::Devices => Ok(devices(&mut std::io::stdout().lock())?),
    }
}

/// `transform` and `step`: the part spooled when it is a pipe, the output written to a
/// temporary file and copied to standard output for `-o -` (once it is complete, so a failed
/// run writes nothing there); `run` returns the summary line.
fn part_command(
    part: &args::PartArgs,
    out: &std::path::Path,
    run: impl FnOnce(&strata_core::PartInput, &std::path::Path) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let piped = spool_if_pipe(&part.input)?;
    let (input, origin) = match &piped {
        Some((t, _)) => (
            t.path().to_owned(),
            Some(strata_core::Origin {
                name: part.input.display().to_string(),
                format: None,
            }),
        ),
        None => (part.input.clone(), None),
    };
    let settings = strata_core::PartInput {
        model: part.model.clone(),
        input,
        delimiter: part.delimiter,
        id_salt: part.privacy.salt()?,
        origin,
    };
    let to_stdout = out.as_os_str() == "-";
    let temp = if to_stdout {
        Some(
            tempfile::Builder::new()
                .prefix("strata-part.")
                .tempdir()
                .context("cannot create a temporary folder for -o -")?,
        )
    } else {
        None
    };
    let target = temp
        .as_ref()
        .map_or_else(|| out.to_owned(), |d| d.path().join("out"));
    let line = run(&settings, &target)?;
    if to_stdout {
        let mut file = std::fs::File::open(&target)
            .with_context(|| format!("cannot read {}", target.display()))?;
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut file, &mut stdout).context("writing to standard output")?;
        stdout.flush().context("writing to standard output")?;
        writeln!(std::io::stderr(), "{line}")?;
    } else {
        writeln!(std::io::stdout(), "{line}\nwrote {}", out.display())?;
    }
    Ok(())
}

/// `strata synth`: streams synthetic customers to a file (temporary name, then renamed).
fn synth(a: &args::SynthArgs) -> anyhow::Result<()> {
    let kind = match a.kind {
        args::SynthKind::Features => {
            anyhow::ensure!(
                a.dims >= 1 && a.clusters >= 1,
                "--dims and --clusters must be at least 1"
            );
            strata_synth::Kind::Features {
                dims: a.dims,
                clusters: a.clusters,
            }
        }
        args::SynthKind::Demographic => strata_synth::Kind::Demographic,
        args::SynthKind::Psychographic => strata_synth::Kind::Psychographic,
        args::SynthKind::Behavioral => strata_synth::Kind::Behavioral,
        args::SynthKind::Firmographic => strata_synth::Kind::Firmographic,
        args::SynthKind::Transactions => strata_synth::Kind::Transactions,
        args::SynthKind::Geographic => strata_synth::Kind::Geographic,
    };
    if a.campaign && !matches!(kind, strata_synth::Kind::Demographic) {
        anyhow::bail!("--campaign adds its columns to --kind demographic only");
    }
    let spec = strata_synth::Spec {
        rows: a.rows,
        seed: a.seed,
        kind,
        campaign: a.campaign,
    };
    let persist = |tmp: tempfile::NamedTempFile, to: &std::path::Path| {
        tmp.persist(to)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", to.display(), e.error))
    };
    // Hidden temporaries beside each output, removed on a signal like a run's staged outputs.
    let temp_beside = |p: &std::path::Path| {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("synth");
        strata_core::temp_in(dir, name)
            .with_context(|| format!("cannot write in {}", dir.display()))
    };
    let (out, _out_registered) = temp_beside(&a.out)?;
    let truth = a.truth.as_deref().map(temp_beside).transpose()?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, out.as_file());
        let mut t = truth
            .as_ref()
            .map(|t| std::io::BufWriter::with_capacity(1 << 20, t.0.as_file()));
        strata_synth::generate(
            &spec,
            &mut w,
            t.as_mut().map(|t| t as &mut dyn std::io::Write),
        )
        .with_context(|| format!("writing {}", a.out.display()))?;
    }
    persist(out, &a.out)?;
    if let (Some((t, _registered)), Some(path)) = (truth, &a.truth) {
        persist(t, path)?;
    }
    tracing::info!("wrote {} rows to {}", a.rows, a.out.display());
    Ok(())
}

/// `strata devices` in a build without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
fn devices(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "This strata was built without GPU support (cargo feature `gpu`); `strata fit` uses the CPU."
    )
}

/// `strata devices`: the adapters wgpu sees.
#[cfg(feature = "gpu")]
fn devices(out: &mut dyn Write) -> std::io::Result<()> {
    let adapters = strata_gpu::list_adapters();
    if adapters.is_empty() {
        writeln!(
            out,
            "No GPU adapter found (Vulkan, Metal or DX12); `strata fit` will use the CPU."
        )?;
        writeln!(
            out,
            "A software Vulkan driver on Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1"
        )?;
    }
    for a in adapters {
        writeln!(
            out,
            "{} ({}, {}), driver {}",
            a.name, a.backend, a.device_type, a.driver
        )?;
        writeln!(
            out,
            "  max storage binding {} MiB, max buffer {} MiB, max workgroups per dimension {}",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroups_per_dimension
        )?;
    }
    Ok(())
}

/// The progress bar cleared before an error is returned.
fn finish_on_error<T, E>(bars: &progress::Bars, r: Result<T, E>) -> Result<T, E> {
    if r.is_err() {
        bars.finish();
    }
    r
}

/// The spooled file and what it stands for, for the settings.
fn spooled(spool: &Option<database::Spool>) -> Option<(&std::path::Path, strata_core::Origin)> {
    spool.as_ref().map(|s| (s.path(), s.origin.clone()))
}

/// `e` naming the database, not the temporary file its rows were read into.
fn renamed(spool: &Option<database::Spool>, e: anyhow::Error) -> anyhow::Error {
    match spool {
        Some(s) => s.rename_in(e),
        None => e,
    }
}

/// Standard input (`-`) or a pipe, socket or device path, copied into a temporary file (removed
/// when dropped, or by the signal handler); `None` for a regular file, read where it is.
fn spool_if_pipe(
    input: &std::path::Path,
) -> anyhow::Result<Option<(tempfile::NamedTempFile, strata_core::Registered)>> {
    let stdin = input.as_os_str() == "-";
    if !stdin && std::fs::metadata(input).map_or(true, |m| m.is_file() || m.is_dir()) {
        return Ok(None);
    }
    let (mut tmp, registered) = strata_core::temp_in(&std::env::temp_dir(), "strata-input.csv")
        .context("cannot create a temporary file to read the input into")?;
    let copied = if stdin {
        std::io::copy(&mut std::io::stdin().lock(), tmp.as_file_mut())
    } else {
        std::fs::File::open(input).and_then(|mut f| std::io::copy(&mut f, tmp.as_file_mut()))
    };
    copied.with_context(|| format!("cannot read {}", input.display()))?;
    Ok(Some((tmp, registered)))
}

/// A failed fit or assign, saying whether the output folder was left as it was (every failure
/// but a commit that could not put the earlier files back, whose own message says what the
/// folder holds).
fn failed(command: &str, out: &std::path::Path, e: strata_core::CoreError) -> anyhow::Error {
    let context = if e.left_outputs_untouched() {
        format!(
            "strata {command} failed; nothing was written to {}",
            out.display()
        )
    } else {
        format!("strata {command} failed")
    };
    anyhow::Error::new(e).context(context)
}

/// On SIGINT, SIGTERM or SIGHUP: remove the outputs staged and not committed (the process
/// ends without running destructors), then exit as the shell expects (128 + the signal).
#[cfg(unix)]
fn clean_up_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            strata_core::remove_staged();
            std::process::exit(128 + signal);
        }
    });
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    // The Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not set" on every GPU probe
    // without it (even under -q); a compute-only process needs no real one.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: the first thing main does, before any thread exists that could read the
        // environment at the same time.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let cli = Cli::parse();
    if let Some(threads) = cli.global.threads {
        // Plugins read the count from here (`strata_plugin_api::par`), as rayon would.
        // SAFETY: still before any thread exists (the signal thread starts just below, the
        // thread pool in `run`).
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
    #[cfg(unix)]
    clean_up_on_signals();
    init_logging(
        cli.global.verbose as i8 - cli.global.quiet as i8,
        cli.global.log_format,
    );
    let json = cli.global.log_format == LogFormat::Json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`strata plugins | head -1`) is not a failure: every
        // file was written before anything was printed.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                // A pipeline reading JSON lines gets the failure as one too.
                tracing::error!(error = %error_text(&e), "strata failed");
            } else {
                eprintln!("error: {}", error_text(&e));
            }
            // As ripgrep and grep do: 2 is an error, whatever it was.
            ExitCode::from(2)
        }
    }
}

/// Whether the error is a write to a pipe whose reader has gone.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, outermost first. The libraries' errors either quote
/// their cause or expose it as `source()`, never both, so the chain says each thing once.
fn error_text(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::error_text;
    use anyhow::Context;

    /// A library error that quotes its cause (`cannot write {path}: {error}`) does not also
    /// expose it, so the line says it once.
    #[test]
    fn a_cause_quoted_in_its_parent_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Err::<(), _>(strata_core::CoreError::Output {
            path: "out/a.csv".into(),
            error: io,
        })
        .context("strata fit failed")
        .unwrap_err();
        assert_eq!(
            error_text(&e),
            "strata fit failed: cannot write out/a.csv: no such file"
        );
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let e = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_text(&e), "outer: middle: inner");
    }
}
