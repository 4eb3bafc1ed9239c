//! `observer distribute`: open a distributed run on `observer serve` for N loadgens to join
//! (`loadgen --join URL/api/runs/ID`). The plan is given once, here, in loadgen's grammar.

use crate::distributed::coordinator::{Definition, OnMissing};
use clap::{Args, ValueEnum};

/// `observer distribute`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("load").required(true).args(["stages", "rate_stages"])))]
pub struct DistributeArgs {
    /// Base URL of `observer serve`.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9464")]
    pub to: String,
    /// Run id; 1–64 of A-Z a-z 0-9 . _ -. One per run: the loadgens join it by this id.
    #[arg(long)]
    pub id: String,
    /// Loadgens that will join.
    #[arg(long, value_name = "N")]
    pub loadgens: u32,
    /// Closed loop: the whole run's CONCURRENCY:DURATION steps, e.g. 30:30s,60:30s.
    #[arg(long, value_name = "SPEC")]
    pub stages: Option<String>,
    /// Open loop: the whole run's RATE:DURATION steps, e.g. 9000:30s.
    #[arg(long, value_name = "SPEC")]
    pub rate_stages: Option<String>,
    /// Settle time per step [default: 1s, or half of the shortest step].
    #[arg(long, value_name = "DUR")]
    pub settle: Option<String>,
    /// How long to wait for every loadgen, counted from the first join.
    #[arg(long, value_name = "DUR", default_value = "60s")]
    pub join_timeout: String,
    /// Fewer loadgens than planned at the timeout: split among those present, or refuse.
    #[arg(long, value_enum, default_value = "resplit")]
    pub on_missing: Missing,
    /// Succeed when the run exists already (compose replicas each try to open it).
    #[arg(long)]
    pub exists_ok: bool,
}

/// `--on-missing`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Missing {
    /// Split the plan among the loadgens present.
    Resplit,
    /// Refuse the run.
    Refuse,
}

impl DistributeArgs {
    /// The definition `observer serve` takes.
    pub fn definition(&self) -> Definition {
        Definition {
            loadgens: self.loadgens,
            stages: self.stages.clone(),
            rate_stages: self.rate_stages.clone(),
            settle: self.settle.clone(),
            max_in_flight: None,
            join_timeout: Some(self.join_timeout.clone()),
            start_delay: None,
            on_missing: match self.on_missing {
                Missing::Resplit => OnMissing::Resplit,
                Missing::Refuse => OnMissing::Refuse,
            },
        }
    }
}

/// Open the run; prints the URL loadgens join.
pub async fn run(a: &DistributeArgs) -> anyhow::Result<()> {
    if !crate::serve::valid_run_id(&a.id) {
        anyhow::bail!("--id {:?} is invalid: use 1-64 of A-Z a-z 0-9 . _ -", a.id);
    }
    let def = a.definition();
    // The observer would refuse it too; saying so here names the flag.
    def.plan().map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = a.to.trim_end_matches('/');
    if !base.starts_with("http://") {
        anyhow::bail!("--to {base:?}: give an http:// URL, e.g. http://127.0.0.1:9464");
    }
    let run_url = format!("{base}/api/runs/{}", a.id);
    let client = loadgen::observer_client::Client::new();
    let (status, body) = client
        .send_bytes(
            "POST",
            &format!("{run_url}/distributed"),
            serde_json::to_vec(&def)?,
        )
        .await?;
    match status {
        201 => eprintln!("opened {run_url} for {} loadgens", a.loadgens),
        409 if a.exists_ok && body.contains("exists already") => {
            eprintln!("{run_url} is open already: joining it")
        }
        _ => anyhow::bail!("the observer refused the run: HTTP {status}: {body}"),
    }
    println!("{run_url}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn flags_make_the_definition_and_errors_name_them() {
        let cli = Cli::try_parse_from([
            "observer",
            "distribute",
            "--id",
            "r1",
            "--loadgens",
            "3",
            "--stages",
            "30:10s",
        ])
        .unwrap();
        let Command::Distribute(a) = cli.command else {
            panic!("not distribute")
        };
        let d = a.definition();
        assert_eq!((d.loadgens, d.stages.as_deref()), (3, Some("30:10s")));
        assert!(d.plan().is_ok());
        let e = Cli::try_parse_from(["observer", "distribute", "--id", "r1", "--loadgens", "3"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--stages") && e.contains("--rate-stages"), "{e}");
    }
}
