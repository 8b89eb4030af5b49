//! `declare_checks!`: a bucket's scenarios and their checks, declared together. Each check's
//! `CheckMeta` (id, bucket, level, section, title, versions, requirement ids) is written once,
//! inside the block of the scenario whose body runs it; the scenario's check list is those
//! declarations, so a check cannot be declared without a scenario that runs it, nor listed in
//! a second place that could disagree.
//!
//! ```ignore
//! declare_checks! {
//!     /// The scenarios of this bucket, in report order.
//!     pub fn scenarios(Bucket::ContentManagement);
//!
//!     "management.tag" => tag {
//!         pub const TAG_DELETE = CheckMeta::new("management.tag.delete", ..).reqs(&[..]);
//!     }
//!     // `exclusive`: runs alone, after the concurrent scenarios; arguments follow the body's
//!     // name and are passed after the scenario handle: `stress(sc, Kind::TagMove)`.
//!     "stress.tag-move" exclusive => stress(Kind::TagMove) { .. }
//! }
//! ```
//!
//! The runner holds each scenario to its list: a check it reports without declaring it, or
//! declares and never reports, is a harness error of the run.

macro_rules! declare_checks {
    (@exclusive) => { false };
    (@exclusive exclusive) => { true };
    (
        $(#[$fdoc:meta])*
        $fvis:vis fn $fname:ident($bucket:expr);
        $(
            $scenario:literal $($flag:ident)? => $run:ident $(($($arg:expr),*))? {
                $( $(#[$doc:meta])* $vis:vis const $id:ident = $meta:expr; )*
            }
        )*
    ) => {
        $( $( $(#[$doc])* $vis const $id: CheckMeta = $meta; )* )*

        $(#[$fdoc])*
        $fvis fn $fname() -> Vec<Scenario> {
            vec![$(
                Scenario {
                    name: $scenario,
                    bucket: $bucket,
                    checks: vec![$(&$id),*],
                    exclusive: declare_checks!(@exclusive $($flag)?),
                    run: |sc| Box::pin($run(sc $($(, $arg)*)?)),
                }
            ),*]
        }
    };
}

pub(crate) use declare_checks;
