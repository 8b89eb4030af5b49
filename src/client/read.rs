//! Reading a response body within bounds: a cap on what is kept, a hash for blobs of any
//! size, silence and minimum-rate limits, and the run's cancellation.

use super::request::Read;
use super::response::{cancelled, error_chain, herr, ErrorKind, HttpError};
use crate::digest::Hasher;
use crate::trace::{redact_known, BODY_PREVIEW};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// How one body is read.
pub(super) struct Plan {
    pub read: Read,
    /// Bytes kept (the rest is hashed or dropped).
    pub keep: usize,
    /// Past `keep`, stop reading quietly instead of failing (a redirect's body).
    pub stop_at_cap: bool,
}

/// What the caller asked for, adjusted to the answer: error statuses are buffered so their
/// bodies can be judged and shown; a redirect's body only previewed (it is not what was asked
/// for); a HEAD has none.
pub(super) fn plan(read: Read, status: u16, redirect: bool, head: bool, body_cap: usize) -> Plan {
    let read = if head { Read::Discard } else { read };
    let (read, keep, stop_at_cap) = match read {
        _ if redirect && !head => (Read::Buffer, BODY_PREVIEW, true),
        Read::Hash(_) if status >= 300 => (Read::Buffer, body_cap, false),
        Read::Discard if status >= 400 && !head => (Read::Buffer, body_cap, false),
        Read::Buffer => (Read::Buffer, body_cap, false),
        Read::Hash(a) => (Read::Hash(a), BODY_PREVIEW, false),
        Read::Discard => (Read::Discard, 0, false),
    };
    Plan { read, keep, stop_at_cap }
}

/// The limits every body read obeys.
pub(super) struct Limits<'a> {
    /// Longest silence between two pieces.
    pub silence: Duration,
    /// Slowest rate accepted, bytes per second over windows of `silence` (0: none).
    pub min_rate: u64,
    /// Longest hashed body.
    pub max_hash: Option<u64>,
    pub cancel: &'a tokio_util::sync::CancellationToken,
    /// `METHOD url` for messages, and the URL as shown (credentials removed).
    pub where_: &'a str,
    pub url: &'a str,
    pub shown_url: &'a str,
}

/// Reads `resp`'s body as `p` says. Returns the kept bytes, the hasher (Read::Hash), and the
/// error that stopped the read, if one did.
pub(super) async fn body(resp: reqwest::Response, p: &Plan, l: &Limits<'_>) -> (Vec<u8>, Option<Hasher>, Result<(), HttpError>) {
    let (read, keep_cap, stop_at_cap) = (p.read, p.keep, p.stop_at_cap);
    let (to, where_) = (l.silence, l.where_);
    let secs = to.as_secs_f64();
    let mut hasher = match read {
        Read::Hash(a) => Some(Hasher::new(a)),
        _ => None,
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut result: Result<(), HttpError> = Ok(());
    if matches!(read, Read::Discard) {
        return (kept, hasher, result);
    }
    let mut stream = resp.bytes_stream();
    // Minimum rate, judged over windows of the silence limit.
    let window = to.max(Duration::from_secs(1));
    let (mut win_start, mut win_bytes) = (Instant::now(), 0u64);
    let min_in_window = (l.min_rate as f64 * window.as_secs_f64()) as u64;
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(to, stream.next()) => n,
            _ = l.cancel.cancelled() => { result = Err(cancelled()); break; }
        };
        match next {
            Err(_) => {
                result = Err(herr(ErrorKind::Timeout, format!("{where_}: timed out after {secs} s without body data ({} bytes read)", hasher.as_ref().map(|h| h.len).unwrap_or(kept.len() as u64))));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                result = Err(herr(
                    ErrorKind::Protocol,
                    format!("{where_}: reading the body failed: {}", redact_known(&error_chain(&e)).replace(l.url, l.shown_url)),
                ));
                break;
            }
            Ok(Some(Ok(chunk))) => {
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                    if let Some(max) = l.max_hash.filter(|m| h.len > *m) {
                        result = Err(herr(ErrorKind::TooLarge, format!("{where_}: blob body is longer than the {max} bytes the harness reads")));
                        break;
                    }
                }
                if kept.len() < keep_cap {
                    let n = chunk.len().min(keep_cap - kept.len());
                    // grow by doubling, but never past the cap (no 2x overshoot)
                    if kept.len() + n > kept.capacity() {
                        let target = (kept.capacity() * 2).max(kept.len() + n).min(keep_cap);
                        kept.reserve_exact(target - kept.len());
                    }
                    kept.extend_from_slice(&chunk[..n]);
                    if n < chunk.len() && matches!(read, Read::Buffer) && !stop_at_cap {
                        result = Err(herr(ErrorKind::TooLarge, format!("{where_}: response body is larger than the {keep_cap} byte cap")));
                        break;
                    }
                } else if matches!(read, Read::Buffer) {
                    if !stop_at_cap {
                        result = Err(herr(ErrorKind::TooLarge, format!("{where_}: response body is larger than the {keep_cap} byte cap")));
                    }
                    break;
                }
                win_bytes += chunk.len() as u64;
                if l.min_rate > 0 && win_start.elapsed() >= window {
                    if win_bytes < min_in_window {
                        result = Err(herr(
                            ErrorKind::Timeout,
                            format!("{where_}: body too slow: {win_bytes} bytes in {:.0} s (the harness needs at least {} bytes/s)", win_start.elapsed().as_secs_f64(), l.min_rate),
                        ));
                        break;
                    }
                    (win_start, win_bytes) = (Instant::now(), 0);
                }
            }
        }
    }
    (kept, hasher, result)
}
