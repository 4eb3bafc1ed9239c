//! Distributed runs on `observer serve`: several loadgens join one run, the plan is split
//! among them, and their records are merged exactly into one run directory.

pub mod coordinator;
pub mod merge;
