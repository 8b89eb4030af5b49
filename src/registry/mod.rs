//! The embedded reference registry (in memory) and its fault switches.
//! Shares no spec logic with the harness: only plain types.

use std::net::SocketAddr;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub addr: String,
    pub faults: Vec<String>,
}

pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn shutdown(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(_opts: Options) -> Result<Running, String> {
    Err("embedded registry not built yet".into())
}

pub mod faults {
    /// One deliberate spec violation the embedded registry can switch on.
    pub struct FaultDef {
        pub name: &'static str,
        pub description: &'static str,
        /// Check ids that must fail (at least one of them) when this fault is on.
        pub breaks: &'static [&'static str],
    }
    pub const ALL: &[FaultDef] = &[];
}
