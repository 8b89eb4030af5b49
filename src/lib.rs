//! oci-conformance: a conformance test harness for the OCI Distribution Specification.
//!
//! Engine modules live in `src/`; the checks live in `suites/` (compiled into this crate as
//! the `suites` module); report templates in `reports/`.

/// `println!` that survives a closed stdout (`oci-conformance list | head`): the rest of the
/// output is dropped instead of the process panicking before its reports are written.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub mod app;
pub mod bench;
pub mod bundle;
pub mod civil;
pub mod cli;
pub mod client;
pub mod config;
pub mod content;
pub mod diff;
pub mod digest;
pub mod events;
pub mod expect;
pub mod headers;
pub mod layout;
pub mod load;
pub mod model;
pub mod plan;
pub mod registry;
pub mod report;
pub mod results;
pub mod results_yaml;
pub mod runner;
pub mod tool;
pub mod trace;
pub mod verify;

#[path = "../suites/mod.rs"]
pub mod suites;

/// Shown by `--version`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (OCI distribution-spec 1.0, 1.1 (v1.1.1, default), main)"
);

/// What a check module needs, in one import.
pub mod prelude {
    pub use crate::client::{Body, Read, Request, Response};
    pub use crate::config::Config;
    pub use crate::content::{
        self, image_index, image_manifest, Blob, Descriptor, Generator, Manifest, ManifestOpts,
    };
    pub use crate::digest::{Algorithm, Digest};
    pub use crate::headers;
    pub use crate::model::{Bucket, CheckMeta, Level, Outcome, SpecVersion};
    pub use crate::runner::{Ck, Fail, Res, Rule, Sc, Scenario, RANK_IMAGE, RANK_INDEX, RANK_REFERRER};
}
