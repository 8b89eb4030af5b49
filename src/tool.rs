//! External programs (the clients bucket's crane, skopeo, podman): found on PATH or named by the
//! user, run with a time limit and no inherited credentials, and recorded for the trace like an
//! HTTP exchange, so the reports show the command line and what it printed.

use crate::trace::{Exchange, TraceSink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How much of a program's output a trace keeps (the end, where the error usually is).
const OUTPUT_TAIL: usize = 4096;

/// The program to run for `name`: the path the user gave, else the first match on PATH.
pub fn locate(name: &str, given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{name}: {} (named with --client-tool) is not a file", p.display()))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} not found on PATH (name it with --client-tool {name}=PATH)"))
}

/// What one run of a program did.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Exit code; None when killed (time limit, cancellation) or not started.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Why it did not finish normally (time limit, could not start).
    pub problem: Option<String>,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// One line for a verdict: the exit and the last line of stderr that says something.
    pub fn summary(&self) -> String {
        let how = match (&self.problem, self.code) {
            (Some(p), _) => p.clone(),
            (None, Some(c)) => format!("exit status {c}"),
            (None, None) => "killed by a signal".into(),
        };
        let last = self.stderr.lines().rev().map(str::trim).find(|l| !l.is_empty());
        match last {
            Some(l) => format!("{how}: {}", crate::trace::preview(l.as_bytes())),
            None => how,
        }
    }
}

/// A command to run: program, arguments, extra environment, working directory.
#[derive(Debug, Clone)]
pub struct Command {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Command {
    pub fn new(program: &Path) -> Command {
        Command { program: program.to_path_buf(), args: vec![], env: vec![] }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Command {
        self.args.push(a.into());
        self
    }
    pub fn args<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Command {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Command {
        self.env.push((k.into(), v.into()));
        self
    }
    /// The command line as a shell would take it (file names are the harness's own).
    pub fn line(&self) -> String {
        let prog = self.program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        std::iter::once(prog).chain(self.args.iter().cloned()).collect::<Vec<_>>().join(" ")
    }

    /// Runs to the end or the time limit (then killed), recording it in `trace`. The child
    /// gets a clean HOME-independent environment: only PATH, the extra variables, and no
    /// proxy or credential variables of the user's.
    pub async fn run(&self, limit: Duration, cancel: &tokio_util::sync::CancellationToken, trace: &TraceSink) -> Ran {
        let started = Instant::now();
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let ran = match c.output_with_limit(limit, cancel).await {
            Ok(Some(out)) => Ran {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                problem: None,
            },
            Ok(None) => Ran {
                code: None,
                stdout: String::new(),
                stderr: String::new(),
                problem: Some(if cancel.is_cancelled() {
                    "stopped: the run was cancelled".into()
                } else {
                    format!("stopped after the time limit of {} s (--client-timeout)", limit.as_secs_f64())
                }),
            },
            Err(e) => Ran { code: None, stdout: String::new(), stderr: String::new(), problem: Some(format!("cannot start: {e}")) },
        };
        trace.push(self.exchange(&ran, started.elapsed()));
        ran
    }

    fn exchange(&self, ran: &Ran, took: Duration) -> Exchange {
        let env = self.env.iter().map(|(k, v)| (format!("env {k}"), v.clone())).collect();
        let mut notes = vec![match (&ran.problem, ran.code) {
            (Some(p), _) => p.clone(),
            (None, Some(c)) => format!("exit status {c}"),
            (None, None) => "killed by a signal".into(),
        }];
        if !ran.stdout.trim().is_empty() {
            notes.push(format!("stdout: {}", tail(&ran.stdout)));
        }
        Exchange {
            method: crate::trace::EXEC.into(),
            url: self.line(),
            request_headers: env,
            request_body: String::new(),
            status: None,
            response_headers: vec![],
            response_body: tail(&ran.stderr),
            duration_ms: took.as_millis() as u64,
            notes,
            refused: None,
        }
    }
}

fn tail(s: &str) -> String {
    let s = s.trim_end();
    if s.len() <= OUTPUT_TAIL {
        return s.to_string();
    }
    let mut cut = s.len() - OUTPUT_TAIL;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &s[cut..])
}

trait OutputWithLimit {
    async fn output_with_limit(
        &mut self,
        limit: Duration,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> std::io::Result<Option<std::process::Output>>;
}

impl OutputWithLimit for tokio::process::Command {
    /// None when the limit or the cancellation came first (the child is killed on drop).
    async fn output_with_limit(
        &mut self,
        limit: Duration,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> std::io::Result<Option<std::process::Output>> {
        let child = self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()?;
        tokio::select! {
            out = child.wait_with_output() => out.map(Some),
            _ = tokio::time::sleep(limit) => Ok(None),
            _ = cancel.cancelled() => Ok(None),
        }
    }
}

/// A scratch directory removed when dropped (client layouts, auth files, storage).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> std::io::Result<ScratchDir> {
        let base = std::env::temp_dir();
        for i in 0..100u32 {
            let p = base.join(format!("oci-conformance-{label}-{}-{i}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))?;
                    }
                    return Ok(ScratchDir(p));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free scratch directory name"))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_limit_kills_and_says_so() {
        let sh = locate("sh", None).unwrap();
        let t = TraceSink::default();
        let r = Command::new(&sh).args(["-c", "sleep 5"]).run(Duration::from_millis(100), &Default::default(), &t).await;
        assert!(!r.ok());
        assert!(r.summary().contains("time limit"), "{}", r.summary());
        let e = &t.take()[0];
        assert_eq!(e.method, "EXEC");
        assert!(e.url.starts_with("sh -c"));
    }

    #[tokio::test]
    async fn output_and_exit_code() {
        let sh = locate("sh", None).unwrap();
        let r = Command::new(&sh).args(["-c", "echo out; echo oops >&2; exit 3"]).run(Duration::from_secs(5), &Default::default(), &TraceSink::default()).await;
        assert_eq!(r.code, Some(3));
        assert_eq!(r.stdout.trim(), "out");
        assert_eq!(r.summary(), "exit status 3: oops");
    }

    #[test]
    fn missing_program_names_the_flag() {
        let e = locate("no-such-client-xyz", None).unwrap_err();
        assert!(e.contains("--client-tool"), "{e}");
    }
}
