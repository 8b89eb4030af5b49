//! report.html (placeholder).

use super::RunRecord;

pub fn render(_r: &RunRecord) -> String {
    String::from("<!doctype html><title>oci-conformance</title>")
}
