//! satlab observer: process and kernel sampling, the OTLP receiver, run directories,
//! the embedded lab (`observer lab`) and the long-running consumer (`observer serve`).

pub mod analysis;
pub mod children;
pub mod cli;
pub mod diagnose_cmd;
pub mod distribute_cmd;
pub mod distributed;
pub mod error;
pub mod exemplars;
pub mod guard;
pub mod kernel;
pub mod lab;
pub mod merge_cmd;
pub mod netns;
pub mod otlp;
pub mod proc_threads;
pub mod process_tree;
pub mod progress;
pub mod promexport;
pub mod rundir;
pub mod sampler;
pub mod scenario;
pub mod scenario_cmd;
pub mod scenario_plan;
pub mod serve;
pub mod steal;
