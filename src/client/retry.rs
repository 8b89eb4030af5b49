//! 429 and 503: wait as long as Retry-After says (within bounds), then send again.

use super::response::Response;
use super::ClientOptions;
use crate::headers;
use std::time::Duration;

pub(super) enum Retry {
    /// Wait this long, then send again; the note says so.
    After(Duration, String),
    /// Hand the answer back; the note says why it is not retried.
    No(String),
}

/// Whether to retry a 429/503 answer, after `retries` retries so far, with a body of `body_len`.
pub(super) fn decide(resp: &Response, retries: usize, opts: &ClientOptions, body_len: u64) -> Retry {
    let status = resp.status;
    let wait = resp.header("retry-after").and_then(headers::parse_retry_after);
    match wait {
        Some(w) if w <= opts.max_retry_wait && retries < opts.max_retries => {
            let again = if body_len == 0 { String::new() } else { format!(" (the {body_len}-byte body is sent again)") };
            Retry::After(w, format!("{status} with Retry-After {} s: waiting, then retry {} of {}{again}", w.as_secs_f64(), retries + 1, opts.max_retries))
        }
        Some(w) if w > opts.max_retry_wait => Retry::No(format!(
            "{status} with Retry-After {} s, longer than the {} s the harness waits: not retried",
            w.as_secs(),
            opts.max_retry_wait.as_secs_f64()
        )),
        Some(_) => Retry::No(format!("{status} again after {} retries: giving up", opts.max_retries)),
        None => Retry::No(format!("{status} without a usable Retry-After: not retried")),
    }
}
