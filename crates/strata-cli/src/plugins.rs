//! `strata plugins`: what was found, what was refused and why.

use std::io::Write;

use strata_host::Registry;

use crate::args::PluginsArgs;

pub fn run(out: &mut dyn Write, args: &PluginsArgs, reg: &Registry) -> anyhow::Result<()> {
    if let Some(name) = &args.strategy {
        let p = reg.find(name)?;
        let i = p.info();
        writeln!(
            out,
            "{} {} (ABI {}.{})",
            i.name, i.version, i.abi.0, i.abi.1
        )?;
        writeln!(out, "  {}", i.description)?;
        writeln!(out, "  file: {}", i.path.display())?;
        writeln!(
            out,
            "  metric: {}, default k: {}",
            i.metric.name(),
            i.default_k
        )?;
        writeln!(out, "  roles:")?;
        let name_w = i
            .roles
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(4);
        for r in &i.roles {
            let mut flags = vec![r.kind.name()];
            if r.required {
                flags.push("required");
            }
            if r.multi {
                flags.push("several columns");
            }
            if r.default_all_numeric {
                flags.push("default: every numeric column");
            }
            if r.value {
                flags.push("value measure");
            }
            if r.personal {
                flags.push("personal");
            }
            writeln!(
                out,
                "    {:<name_w$} {:<40} {}",
                r.name,
                flags.join(", "),
                r.description
            )?;
        }
        if !i.docs.trim().is_empty() {
            writeln!(out)?;
            for line in i.docs.trim_end().lines() {
                writeln!(out, "  {line}")?;
            }
        }
        return Ok(());
    }
    writeln!(
        out,
        "Searched: {}",
        reg.dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let plugins = reg.plugins();
    if plugins.is_empty() {
        writeln!(out, "No strategy plugins found.")?;
    } else {
        writeln!(
            out,
            "{:<14} {:<9} {:<5} {:<40} FILE",
            "STRATEGY", "VERSION", "ABI", "ROLES"
        )?;
        for p in &plugins {
            let i = p.info();
            let roles: Vec<&str> = i.roles.iter().map(|r| r.name.as_str()).collect();
            writeln!(
                out,
                "{:<14} {:<9} {:<5} {:<40} {}",
                i.name,
                i.version,
                format!("{}.{}", i.abi.0, i.abi.1),
                roles.join(","),
                i.path.display()
            )?;
        }
    }
    for r in &reg.refused() {
        writeln!(out, "refused {}: {}", r.path.display(), r.reason)?;
    }
    Ok(())
}
