//! The official suite's workflow names (what the OCI conformance site lists in a submission's
//! results.yaml) and the checks of ours that exercise each. A workflow listed here is one we
//! test; names we do not test (for example "Bad Digest Image", the delete "atomic" variants)
//! are left out rather than reported on someone else's behalf.

pub use crate::model::{Section, Workflow};

const fn w(section: Section, name: &'static str, required: bool, checks: &'static [&'static str]) -> Workflow {
    Workflow { section, name, required, checks }
}

use Section::{Apis, Data};

pub const WORKFLOWS: &[Workflow] = &[
    w(Apis, "Ping", false, &["pull.api.v2-base"]),
    w(Apis, "Blob get", true, &["pull.blob.get", "pull.blob.get-digest-header", "pull.blob.get-empty", "pull.blob.unknown-404", "pull.blob.error-code", "pull.large.get", "pull.isolation.other-repo-404"]),
    w(Apis, "Blob get range", false, &["pull.blob.range"]),
    w(Apis, "Blob head", true, &["pull.blob.head", "pull.blob.head-unknown-404", "pull.isolation.other-repo-404"]),
    w(Apis, "Blob push", false, &["push.monolithic.put-201", "push.monolithic.location-pullable", "push.digest.mismatch", "push.digest.invalid-400", "push.large.monolithic"]),
    w(Apis, "Blob post put", false, &["push.upload.post-202", "push.monolithic.put-201", "push.monolithic.location-pullable", "push.upload.session-unique"]),
    w(Apis, "Blob post only", false, &["push.monolithic.single-post"]),
    w(Apis, "Blob chunked", false, &["push.chunked.patch-202", "push.chunked.status-204", "push.chunked.status-any-location", "push.chunked.put-201", "push.chunked.final-chunk-in-put", "push.chunked.min-length", "push.chunked.out-of-order-416", "push.chunked.final-out-of-order-416", "push.large.chunked"]),
    w(Apis, "Blob streaming", false, &["push.streamed.patch"]),
    w(Apis, "Blob mount", false, &["push.mount.from", "push.mount.unknown-blob"]),
    w(Apis, "Blob anonymous mount", false, &["push.mount.without-from"]),
    w(Apis, "Blob upload cancel", false, &["push.upload.cancel"]),
    w(Apis, "Blob delete", false, &["management.blob.delete", "management.blob.deleted-404", "management.blob.delete-unknown-404"]),
    w(Apis, "Manifest get by digest", true, &["pull.manifest.get-by-digest", "pull.manifest.get-digest-header", "pull.manifest.content-type", "pull.manifest.content-type-params", "pull.manifest.unknown-digest-404", "pull.manifest.index"]),
    w(Apis, "Manifest get by tag", true, &["pull.manifest.get-by-tag", "pull.manifest.unknown-tag-404", "pull.manifest.unknown-repo-404", "pull.manifest.error-code"]),
    w(Apis, "Manifest head by digest", true, &["pull.manifest.head-by-digest", "pull.manifest.head-content-length", "pull.manifest.head-unknown-404"]),
    w(Apis, "Manifest head by tag", true, &["pull.manifest.head-by-tag", "pull.manifest.head-content-length"]),
    w(Apis, "Manifest put by digest", false, &["push.manifest.put-by-digest", "push.manifest.digest-header", "push.manifest.location", "push.manifest.exact-bytes", "push.manifest.index", "push.manifest.artifact", "push.manifest.no-layers", "push.manifest.content-type-params", "push.manifest.missing-blobs", "push.manifest.size-4mib", "push.manifest.too-large-413"]),
    w(Apis, "Manifest put by tag", false, &["push.manifest.put-by-tag", "discovery.names.tag-128", "discovery.tags.retag"]),
    w(Apis, "Manifest put with subject", false, &["referrers.push.subject-missing", "referrers.push.oci-subject"]),
    w(Apis, "Manifest put with tag params", false, &["push.manifest.tag-param", "push.manifest.tag-param-10"]),
    w(Apis, "Manifest delete", false, &["management.manifest.delete", "management.manifest.deleted-404", "management.manifest.tags-unlisted", "management.manifest.delete-unknown-repo-404"]),
    w(Apis, "Tag delete", false, &["management.tag.delete", "management.tag.deleted-404", "management.tag.unlisted"]),
    w(Apis, "Tag listing", false, &["discovery.tags.list", "discovery.tags.name", "discovery.tags.contains-pushed", "discovery.tags.order", "discovery.tags.n", "discovery.tags.n-zero", "discovery.tags.last", "discovery.tags.last-without-n", "discovery.tags.link-header", "discovery.tags.pagination-walk", "discovery.tags.unknown-repo-404", "discovery.tags.empty"]),
    w(Apis, "Referrers", false, &["referrers.api.list", "referrers.api.descriptors", "referrers.api.artifact-type", "referrers.api.artifact-type-config", "referrers.api.index-referrer", "referrers.api.annotations", "referrers.api.same-repo-only", "referrers.api.unknown-subject-empty", "referrers.api.invalid-digest-400", "referrers.api.filter", "referrers.api.removed-after-delete", "referrers.api.pagination", "referrers.api.subject-pushed-later", "referrers.fallback.tag-schema"]),
    w(Data, "Blobs sha256", true, &["pull.blob.get", "pull.blob.head", "push.monolithic.put-201", "push.chunked.put-201"]),
    w(Data, "Blobs sha512", false, &["push.digest.sha512"]),
    w(Data, "Image", true, &["pull.manifest.get-by-tag", "pull.manifest.get-by-digest", "push.manifest.put-by-tag", "push.manifest.put-by-digest"]),
    w(Data, "Index", true, &["pull.manifest.index", "push.manifest.index"]),
    w(Data, "Nested Index", false, &["pull.manifest.index"]),
    w(Data, "Artifact", false, &["push.manifest.artifact"]),
    w(Data, "No Layers", false, &["push.manifest.no-layers"]),
    w(Data, "Artifacts with Subject", false, &["referrers.api.list", "referrers.api.descriptors", "referrers.push.oci-subject"]),
    w(Data, "Index with Subject", false, &["referrers.api.index-referrer"]),
    w(Data, "Missing Subject", false, &["referrers.push.subject-missing"]),
    w(Data, "Image with Large Manifest", false, &["push.manifest.size-4mib"]),
    w(Data, "Bad Digest Image", false, &["push.manifest.digest-mismatch"]),
    w(Data, "Tag Param", false, &["push.manifest.tag-param"]),
];
