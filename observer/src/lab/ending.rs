//! How a lab run ended: the manifest's interrupt reason, the exit code, and the outcome
//! handed back to the command line.

use satlab_common::exit;
use std::path::PathBuf;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// loadgen finished its plan.
    Complete,
    /// loadgen finished its plan and a `--threshold` of its load arguments was crossed.
    ThresholdsCrossed,
    /// Ctrl-C or SIGTERM to the observer.
    Signal(&'static str),
    /// A child exited on its own before the plan ended, or could not get ready.
    ChildFailed(String),
    /// `--max-duration` passed.
    Timeout,
}

impl Ending {
    /// The manifest's interrupt reason (`None` when complete).
    pub fn reason(&self) -> Option<String> {
        match self {
            Ending::Complete | Ending::ThresholdsCrossed => None,
            Ending::Signal(s) => Some(format!("{s} received")),
            Ending::ChildFailed(m) => Some(m.clone()),
            Ending::Timeout => Some("--max-duration reached".into()),
        }
    }

    /// The interrupt reason with a failure to write the samples added (a run whose samples
    /// are incomplete is interrupted, whatever else happened).
    pub fn reason_with(&self, samples_error: Option<String>) -> Option<String> {
        let reason = self.reason();
        match samples_error {
            None => reason,
            Some(e) => Some(match reason {
                Some(r) => format!("{r}; samples: {e}"),
                None => format!("samples: {e}"),
            }),
        }
    }

    /// The process exit code: 0 complete, 99 thresholds crossed, 130 SIGINT, 143 SIGTERM,
    /// 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Ending::Complete => exit::OK,
            Ending::ThresholdsCrossed => exit::THRESHOLD,
            Ending::Signal("SIGTERM") => exit::TERMINATED,
            Ending::Signal(_) => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    }
}

/// The result of a lab run.
#[derive(Debug, Clone)]
pub struct LabOutcome {
    /// The run directory.
    pub dir: PathBuf,
    /// How it ended.
    pub ending: Ending,
    /// Server events received over OTLP.
    pub events: usize,
    /// The tail of loadgen's output (its summary table).
    pub loadgen_tail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_map_to_exit_codes() {
        assert_eq!(Ending::Complete.exit_code(), 0);
        assert_eq!(Ending::Complete.reason(), None);
        assert_eq!(Ending::Signal("SIGINT").exit_code(), 130);
        assert_eq!(Ending::Signal("SIGTERM").exit_code(), 143);
        assert_eq!(Ending::ThresholdsCrossed.exit_code(), 99);
        assert_eq!(Ending::ThresholdsCrossed.reason(), None);
        assert_eq!(Ending::Timeout.exit_code(), 1);
        assert!(
            Ending::ChildFailed("x".into())
                .reason()
                .unwrap()
                .contains('x')
        );
    }

    #[test]
    fn a_samples_error_makes_the_run_interrupted() {
        assert_eq!(Ending::Complete.reason_with(None), None);
        assert_eq!(
            Ending::Complete.reason_with(Some("disk full".into())),
            Some("samples: disk full".into())
        );
        assert_eq!(
            Ending::Timeout.reason_with(Some("disk full".into())),
            Some("--max-duration reached; samples: disk full".into())
        );
    }
}
