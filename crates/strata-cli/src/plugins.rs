//! `strata plugins`: what was found, what was refused and why.

use strata_host::Registry;

use crate::args::PluginsArgs;

pub fn run(args: &PluginsArgs, reg: &Registry) -> anyhow::Result<()> {
    if let Some(name) = &args.strategy {
        let p = reg.find(name)?;
        let i = p.info();
        println!("{} {} (ABI {}.{})", i.name, i.version, i.abi.0, i.abi.1);
        println!("  {}", i.description);
        println!("  file: {}", i.path.display());
        println!("  metric: {}, default k: {}", i.metric.name(), i.default_k);
        println!("  roles:");
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
            println!(
                "    {:<name_w$} {:<40} {}",
                r.name,
                flags.join(", "),
                r.description
            );
        }
        if !i.docs.trim().is_empty() {
            println!();
            for line in i.docs.trim_end().lines() {
                println!("  {line}");
            }
        }
        return Ok(());
    }
    println!(
        "Searched: {}",
        reg.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if reg.plugins.is_empty() {
        println!("No strategy plugins found.");
    } else {
        println!(
            "{:<14} {:<9} {:<5} {:<40} FILE",
            "STRATEGY", "VERSION", "ABI", "ROLES"
        );
        for p in &reg.plugins {
            let i = p.info();
            let roles: Vec<&str> = i.roles.iter().map(|r| r.name.as_str()).collect();
            println!(
                "{:<14} {:<9} {:<5} {:<40} {}",
                i.name,
                i.version,
                format!("{}.{}", i.abi.0, i.abi.1),
                roles.join(","),
                i.path.display()
            );
        }
    }
    for r in &reg.refused {
        println!("refused {}: {}", r.path.display(), r.reason);
    }
    Ok(())
}
