//! `observer diagnose DIR [--format text|json|html] [--output FILE] [--write]`: the
//! subcommand over the `satlab-diagnosis` library. It lives in the observer, not in the
//! library, because it writes files (`--write`, `--output`) and reports errors the binary
//! way (anyhow), which keeps the diagnosis crate free of clap and of file writing.

use anyhow::Context;
use satlab_diagnosis::report::{html, json, text};
use std::io::Write;
use std::path::PathBuf;

/// Output format of `observer diagnose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An 80-column verdict box and step table.
    Text,
    /// `diagnosis.json` (schema `satlab.diagnosis/1`).
    Json,
    /// One self-contained HTML file with inline SVG charts.
    Html,
}

/// Arguments of `observer diagnose`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Diagnose a run directory: client, server or socket saturation, the USL fit and periodic spikes",
    long_about = "Recompute the diagnosis of a run directory from its files alone: the per-step table, \
the plateau and its USL fit, the verdict (client, server CPU / pool-I/O / shedding, socket, or still \
scaling) with the figures that decided it, and periodic latency spikes tied to server events. \
The result is a deterministic function of the directory."
)]
pub struct DiagnoseArgs {
    /// The run directory (holds loadgen/summary.json; written by `observer lab` or `loadgen --out`).
    #[arg(value_name = "DIR", value_parser = parse_run_dir)]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write diagnosis.json, report.txt and report.html into DIR.
    #[arg(long)]
    pub write: bool,
}

fn parse_run_dir(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if !p.is_dir() {
        return Err(format!(
            "'{s}' is not a directory; pass the run directory written by `observer lab` (e.g. runs/<name>)"
        ));
    }
    if !p.join("loadgen/summary.json").is_file() {
        return Err(format!(
            "'{s}' has no loadgen/summary.json; pass a run directory (the one holding loadgen/, samples/, otlp/)"
        ));
    }
    Ok(p)
}

/// Run `observer diagnose`.
pub fn run(args: &DiagnoseArgs) -> anyhow::Result<()> {
    let d = if args.write {
        crate::analysis::diagnose_and_write(&args.dir)
    } else {
        satlab_diagnosis::diagnose_dir(&args.dir)
    }
    .with_context(|| format!("diagnosing {}", args.dir.display()))?;
    let body = match args.format {
        Format::Text => text::render(&d),
        Format::Json => json::render(&d).context("serialising the diagnosis")?,
        Format::Html => html::render(&d),
    };
    match &args.output {
        Some(path) => satlab_record::fsio::write_atomic(path, body.as_bytes())
            .with_context(|| format!("writing --output {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = out.write_all(body.as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: DiagnoseArgs,
    }

    #[test]
    fn bad_dir_and_format_name_the_fix() {
        let e = T::try_parse_from(["t", "/nonexistent/run"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = T::try_parse_from(["t", dir.path().to_str().unwrap()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("loadgen/summary.json"), "{e}");
        std::fs::create_dir_all(dir.path().join("loadgen")).unwrap();
        std::fs::write(dir.path().join("loadgen/summary.json"), "{}").unwrap();
        let e = T::try_parse_from(["t", dir.path().to_str().unwrap(), "--format", "pdf"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--format") && e.contains("html"), "{e}");
    }
}
