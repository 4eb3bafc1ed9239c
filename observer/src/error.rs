//! Errors shared by several files of the observer, defined at the bottom so no file
//! imports its parent module for an error type.

use crate::children::ChildError;
use crate::netns::NetnsError;
use crate::otlp::receiver::ReceiverError;
use crate::rundir::RunDirError;
use crate::sampler::SamplerError;
use crate::scenario::ScenarioError;

/// Errors that stop a lab run before it produced a run directory worth keeping.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The scenario could not be found or parsed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run directory could not be created or written.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// A file of the run could not be written.
    #[error(transparent)]
    Record(#[from] satlab_record::RecordError),
    /// The namespace could not be set up.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The OTLP receiver could not start.
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    /// A child could not be started.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// Sampling could not start.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// The options name no usable target (flags that do not go together, a bad URL, a
    /// process that does not exist).
    #[error("{0}")]
    Target(String),
    /// Something else in the environment.
    #[error("{0}")]
    Env(String),
}
