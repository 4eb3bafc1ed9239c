//! The sentence both reports print under "where the time went": the expected share's
//! ratio, every span counted once, and the clock statement.

use crate::format::fmt_num;
use crate::time_model::WhereTimeWent;

/// `Spans: 9,551 client, 9,551 joined, …; 3,237 sent outside the measured windows.
/// Clock: …`, after the sampling ratio the expected share uses.
pub fn span_account(w: &WhereTimeWent) -> (String, String) {
    let ratio = w
        .sampling
        .effective_ratio
        .map(|r| format!("{r:.3}"))
        .unwrap_or_else(|| "unknown".into());
    let c = &w.spans;
    let spans = format!(
        "Spans: {} client, {} joined, {} client without server, {} server without client, {} other; {} sent outside the measured windows. Clock: {}.",
        fmt_num(c.client as f64),
        fmt_num(c.joined as f64),
        fmt_num(c.client_without_server as f64),
        fmt_num(c.server_without_client as f64),
        fmt_num(c.other as f64),
        fmt_num(w.outside_windows as f64),
        w.clock
    );
    (ratio, spans)
}
