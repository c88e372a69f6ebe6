//! `strata`: the command line over Strata's libraries. Parses flags (see [`args`]), turns them
//! into validated settings, calls the libraries, prints results. No segmentation logic here.

mod args;
mod plugins;
mod summary;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};

fn init_logging(verbosity: i8) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn,strata_core=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("STRATA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(threads) = cli.global.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(threads))
            .build_global()
            .context("cannot start the thread pool")?;
    }
    let registry = || {
        let env = std::env::var_os("STRATA_PLUGIN_PATH");
        strata_host::Registry::discover(&strata_host::search_dirs(
            env.as_deref(),
            &cli.global.plugin_dirs,
        ))
    };
    match &cli.command {
        Command::Fit(fit) => {
            let settings = fit.to_settings()?;
            let registry = registry();
            for r in &registry.refused {
                tracing::warn!("ignored plugin {}: {}", r.path.display(), r.reason);
            }
            let report = strata_core::fit(&settings, &registry).with_context(|| {
                format!(
                    "strata fit failed; nothing was written to {}",
                    settings.out.display()
                )
            })?;
            summary::print(&report);
            Ok(())
        }
        Command::Plugins(p) => plugins::run(p, &registry()),
        Command::Devices => {
            devices();
            Ok(())
        }
    }
}

/// `strata devices`: the adapters wgpu sees.
fn devices() {
    let adapters = strata_gpu::list_adapters();
    if adapters.is_empty() {
        println!("No GPU adapter found (Vulkan, Metal or DX12); `strata fit` will use the CPU.");
        println!(
            "A software Vulkan driver on Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1"
        );
    }
    for a in adapters {
        println!(
            "{} ({}, {}), driver {}",
            a.name, a.backend, a.device_type, a.driver
        );
        println!(
            "  max storage binding {} MiB, max buffer {} MiB, max workgroups per dimension {}",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroups_per_dimension
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose as i8 - cli.global.quiet as i8);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
