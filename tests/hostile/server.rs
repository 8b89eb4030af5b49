//! A small HTTP/1.1 server on loopback that misbehaves at the byte level. It parses just
//! enough of each request to log it, then plays a script of raw writes, pauses, resets and
//! hangs chosen by the scenario's handler. Nothing here is a correct server on purpose.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// 0-based arrival index over the whole server (0 is normally the harness's preflight).
    pub n: usize,
    pub method: String,
    /// The request target as sent (origin form, query included).
    pub target: String,
    pub headers: Vec<(String, String)>,
    #[allow(dead_code)] // for debugging a scenario
    pub body_len: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// One thing the server does on a connection.
pub enum Step {
    Write(Vec<u8>),
    /// Writes the bytes one at a time with a pause after each.
    Trickle(Vec<u8>, Duration),
    Sleep(Duration),
    /// Writes `frame` again and again, at most `bytes_per_sec` (0: as fast as possible).
    Endless {
        frame: Vec<u8>,
        bytes_per_sec: u64,
    },
    /// Never writes again; the socket stays open until the server is dropped.
    Hang,
    /// Closes with a TCP RST (SO_LINGER 0).
    Reset,
    /// Closes normally.
    Close,
    /// Stops the whole server: the listener goes away (later connects are refused) and every
    /// open connection is closed.
    Die,
}

/// The script for one response. Unless it ends the connection, the server reads the next
/// request on the same connection afterwards (keep-alive).
pub struct Reply(pub Vec<Step>);

impl Reply {
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply(vec![Step::Write(bytes.into())])
    }
    /// A well-formed response with a Content-Length (unless `headers` sets one or chunking).
    pub fn status(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Reply {
        Reply::raw(response(status, headers, body.as_ref()))
    }
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::status(status, &[("Content-Type", "application/json")], body)
    }
    pub fn then(mut self, s: Step) -> Reply {
        self.0.push(s);
        self
    }
}

/// Serializes a response. Headers are written as given (any bytes the caller chose);
/// Content-Length is added unless the caller set it or Transfer-Encoding.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    response_bytes(
        status,
        &headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect::<Vec<_>>(),
        body,
    )
}

/// Like `response`, with header names and values as raw bytes (invalid UTF-8 allowed).
pub fn response_bytes(status: u16, headers: &[(Vec<u8>, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    let mut framed = false;
    for (k, v) in headers {
        let lk = String::from_utf8_lossy(k).to_ascii_lowercase();
        framed |= lk == "content-length" || lk == "transfer-encoding";
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !framed {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// One chunk of a chunked body, framed.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    v
}

/// What the handler knows besides the request.
pub struct Ctx {
    pub addr: SocketAddr,
}

pub type Handler = Arc<dyn Fn(&Seen, &Ctx) -> Reply + Send + Sync>;

pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Longest request head the server reads before giving up on a connection.
const HEAD_CAP: usize = 256 << 10;

impl Server {
    /// Starts on `ip:0` in the current tokio runtime.
    pub async fn start(
        ip: &str,
        handler: impl Fn(&Seen, &Ctx) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start_with(ip, None, Arc::new(handler)).await
    }

    /// `on_connect`: when set, every connection gets this script at once, without reading a
    /// request (a server that is not speaking the expected protocol), then is closed.
    pub async fn start_with(
        ip: &str,
        on_connect: Option<Arc<dyn Fn() -> Vec<Step> + Send + Sync>>,
        handler: Handler,
    ) -> Server {
        let listener = TcpListener::bind(format!("{ip}:0"))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = CancellationToken::new();
        let (s2, stop2) = (seen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = stop2.cancelled() => break,
                };
                let Ok((stream, _)) = conn else { continue };
                let _ = stream.set_nodelay(true);
                let (seen, stop, handler, on_connect) = (
                    s2.clone(),
                    stop2.clone(),
                    handler.clone(),
                    on_connect.clone(),
                );
                tokio::spawn(async move {
                    let ctx = Ctx { addr };
                    tokio::select! {
                        _ = connection(stream, &seen, &stop, &handler, on_connect, &ctx) => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
            // the listener is dropped here: later connects are refused
        });
        Server { addr, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn connection(
    mut s: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    stop: &CancellationToken,
    handler: &Handler,
    on_connect: Option<Arc<dyn Fn() -> Vec<Step> + Send + Sync>>,
    ctx: &Ctx,
) {
    if let Some(f) = on_connect {
        play(&mut s, f(), stop).await;
        return;
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Some(req) = read_request(&mut s, &mut buf, seen).await else {
            return;
        };
        let reply = handler(&req, ctx);
        if !play(&mut s, reply.0, stop).await {
            return;
        }
    }
}

/// Plays a script; false when the connection is finished.
async fn play(s: &mut TcpStream, steps: Vec<Step>, stop: &CancellationToken) -> bool {
    for step in steps {
        match step {
            Step::Write(b) => {
                if s.write_all(&b).await.is_err() {
                    return false;
                }
            }
            Step::Trickle(b, d) => {
                for x in b {
                    if s.write_all(&[x]).await.is_err() {
                        return false;
                    }
                    tokio::time::sleep(d).await;
                }
            }
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Endless {
                frame,
                bytes_per_sec,
            } => loop {
                if s.write_all(&frame).await.is_err() {
                    return false;
                }
                if bytes_per_sec > 0 {
                    tokio::time::sleep(Duration::from_secs_f64(
                        frame.len() as f64 / bytes_per_sec as f64,
                    ))
                    .await;
                }
            },
            Step::Hang => {
                stop.cancelled().await;
                return false;
            }
            Step::Reset => {
                // linger 0 does not block on drop: the close is an immediate RST
                #[allow(deprecated)]
                let _ = s.set_linger(Some(Duration::ZERO));
                return false;
            }
            Step::Close => {
                let _ = s.shutdown().await;
                return false;
            }
            Step::Die => {
                stop.cancel();
                return false;
            }
        }
    }
    true
}

/// Reads one request (head and body) and logs it. None at EOF or on garbage.
async fn read_request(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    seen: &Mutex<Vec<Seen>>,
) -> Option<Seen> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > HEAD_CAP {
            return None;
        }
        fill(s, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body_len = 0;
    if get("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false)
    {
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                fill(s, buf).await?;
            };
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&buf[..line_end])
                    .split(';')
                    .next()?
                    .trim(),
                16,
            )
            .ok()?;
            buf.drain(..line_end + 2);
            skip(s, buf, size + 2).await?;
            body_len += size;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        skip(s, buf, n).await?;
        body_len = n;
    }
    let mut log = seen.lock().unwrap();
    let req = Seen {
        n: log.len(),
        method,
        target,
        headers,
        body_len,
    };
    log.push(req.clone());
    Some(req)
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut tmp = [0u8; 64 << 10];
    let n = s.read(&mut tmp).await.ok()?;
    if n == 0 {
        return None;
    }
    buf.extend_from_slice(&tmp[..n]);
    Some(())
}

/// Consumes `n` body bytes without keeping them (request bodies can be many MiB).
async fn skip(s: &mut TcpStream, buf: &mut Vec<u8>, mut n: usize) -> Option<()> {
    loop {
        let k = n.min(buf.len());
        buf.drain(..k);
        n -= k;
        if n == 0 {
            return Some(());
        }
        fill(s, buf).await?;
    }
}
