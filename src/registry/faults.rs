//! Fault switches: each one turns on ONE deliberate, observable spec violation in the embedded
//! registry, so the self-tests can prove that the check listed in `breaks` catches it.
//! The registry code asks `State::fault("name")` at the place the violation happens.

/// One deliberate spec violation the embedded registry can switch on.
#[derive(Debug, Clone, Copy)]
pub struct FaultDef {
    pub name: &'static str,
    pub description: &'static str,
    /// Check ids (`oci-conformance list`) of which at least one must fail (or warn, for
    /// SHOULD checks) when this fault is on.
    pub breaks: &'static [&'static str],
}

const fn f(
    name: &'static str,
    breaks: &'static [&'static str],
    description: &'static str,
) -> FaultDef {
    FaultDef {
        name,
        description,
        breaks,
    }
}

/// What the large-blob faults call large.
pub const LARGE: usize = 16 << 20;

pub fn find(name: &str) -> Option<&'static FaultDef> {
    ALL.iter().find(|f| f.name == name)
}

pub const ALL: &[FaultDef] = &[
    // ---- pull ----
    f("v2-base-not-found", &["pull.api.v2-base"], "GET /v2/ answers 404"),
    f("manifest-by-tag-wrong-bytes", &["pull.manifest.get-by-tag"], "GET of a manifest by tag appends a newline to the stored bytes"),
    f("manifest-by-digest-wrong-bytes", &["pull.manifest.get-by-digest"], "GET of a manifest by digest appends a newline to the stored bytes"),
    f("manifest-wrong-digest-header", &["pull.manifest.get-digest-header"], "GET of a manifest sends a Docker-Content-Digest that is not the manifest's digest"),
    f("manifest-wrong-content-type", &["pull.manifest.content-type"], "manifests are served as application/json instead of the pushed media type"),
    f("manifest-content-type-params", &["pull.manifest.content-type-params"], "manifest Content-Type gets a '; charset=utf-8' parameter"),
    f("manifest-head-by-tag-404", &["pull.manifest.head-by-tag"], "HEAD of a manifest by tag answers 404"),
    f("manifest-head-by-digest-404", &["pull.manifest.head-by-digest"], "HEAD of a manifest by digest answers 404"),
    f("manifest-head-wrong-length", &["pull.manifest.head-content-length"], "HEAD of a manifest sends Content-Length one byte too large"),
    f("index-no-digest-header", &["pull.headers.every-answer"], "GET and HEAD of an image index answer 200 without Docker-Content-Digest"),
    f("index-wrong-bytes", &["pull.manifest.index", "clients.crane.index", "clients.skopeo.index"], "GET of an image index appends a newline to the stored bytes"),
    f("unknown-tag-200", &["pull.manifest.unknown-tag-404"], "GET of an unknown tag answers 200 with an empty JSON object"),
    f("unknown-manifest-digest-400", &["pull.manifest.unknown-digest-404"], "GET of an unknown manifest digest answers 400 instead of 404"),
    f("unknown-manifest-head-200", &["pull.manifest.head-unknown-404"], "HEAD of an unknown manifest answers 200"),
    f("unknown-repo-403", &["pull.manifest.unknown-repo-404"], "manifest GET/HEAD in a repository that does not exist answers 403 DENIED"),
    f("manifest-unknown-wrong-code", &["pull.manifest.error-code"], "404 for an unknown manifest or repository carries the code NOT_FOUND, which is not in the table (Trow does this for blobs)"),
    f("blob-wrong-bytes", &["pull.blob.get", "clients.crane.pull", "clients.skopeo.pull", "clients.podman.pull"], "GET of a blob flips the last byte"),
    f("blob-wrong-digest-header", &["pull.blob.get-digest-header"], "GET of a blob sends a Docker-Content-Digest that is not the blob's digest"),
    f("empty-blob-404", &["pull.blob.get-empty"], "GET of the zero-length blob answers 404"),
    f("blob-head-wrong-length", &["pull.blob.head"], "HEAD of a blob sends Content-Length one byte too large"),
    f("blob-range-wrong-bytes", &["pull.blob.range"], "a Range request gets 206 with the bytes one position later than asked"),
    f("blob-range-ignored", &["pull.blob.range"], "Range is ignored: 200 with the whole blob (SHOULD support Range)"),
    f("unknown-blob-400", &["pull.blob.unknown-404"], "GET of an unknown blob answers 400 instead of 404"),
    f("unknown-blob-head-200", &["pull.blob.head-unknown-404"], "HEAD of an unknown blob answers 200"),
    f("blob-unknown-wrong-code", &["pull.blob.error-code"], "404 for an unknown blob carries the code NOT_FOUND, which is not in the table (Trow 0.10)"),
    f("large-get-corrupt", &["pull.large.get", "push.large.chunked"], "GET of a blob over 16 MiB flips its last byte"),
    f("upload-stale-location-404", &["push.chunked.status-any-location"], "upload Locations carry the offset (?_offset=N, like docker-registry's _state); a status GET on any but the latest answers 404 BLOB_UPLOAD_INVALID"),
    f("upload-invalid-unlisted-code", &["pull.errors.every-answer"], "4xx answers with the code BLOB_UPLOAD_INVALID (bad or out-of-order chunks) carry BLOB_UPLOAD_RANGE_INVALID instead, a code the table does not have"),
    f("error-message-not-string", &["pull.errors.json-format", "pull.errors.every-answer"], "the \"message\" of every JSON error is an object {\"text\": …} instead of a string"),
    f("error-body-not-spec-json", &["pull.errors.json-format"], "JSON error bodies are {\"message\": …} without the \"errors\" array"),
    f("warning-header-dated", &["pull.warnings.format"], "every response carries a Warning header with a warn-date"),
    f("warning-header-oversized", &["pull.warnings.format"], "every response carries five well-formed Warning headers of 1 KiB each (over the 4096-byte limit)"),
    // ---- push ----
    f("large-put-refused", &["push.large.monolithic"], "a closing PUT whose body is over 16 MiB is refused with 413"),
    f("upload-post-200", &["push.upload.post-202"], "POST /blobs/uploads/ answers 200 instead of 202"),
    f("upload-session-reused", &["push.upload.session-unique"], "POST /blobs/uploads/ always hands out the same session id in a repository (restarting that session)"),
    f("blob-put-200", &["push.monolithic.put-201"], "the closing PUT of a monolithic upload answers 200 instead of 201"),
    f("blob-put-bad-location", &["push.monolithic.location-pullable"], "the closing PUT's Location names another (absent) blob"),
    f("single-post-corrupt", &["push.monolithic.single-post"], "single-POST uploads answer 201 but store the blob with its last byte flipped"),
    f("chunk-patch-no-range", &["push.chunked.patch-202"], "PATCH answers 202 without the Range header"),
    f("chunked-put-corrupt", &["push.chunked.put-201"], "uploads made of PATCH chunks answer 201 but store the blob with its last byte flipped"),
    f("final-chunk-in-put-ignored", &["push.chunked.final-chunk-in-put"], "the body of a closing PUT with Content-Range is ignored"),
    f("upload-status-200", &["push.chunked.status-204"], "GET of an upload session answers 200 instead of 204"),
    f("chunk-out-of-order-accepted", &["push.chunked.out-of-order-416"], "a PATCH whose Content-Range does not start at the current end is appended (202)"),
    f("final-chunk-out-of-order-accepted", &["push.chunked.final-out-of-order-416"], "a closing PUT whose Content-Range does not start at the current end is appended"),
    f("chunk-min-length-zero", &["push.chunked.min-length"], "POST answers OCI-Chunk-Min-Length: 0 (not a positive integer)"),
    f("streamed-patch-corrupt", &["push.streamed.patch", "clients.crane.push", "clients.skopeo.push", "clients.podman.push"], "uploads streamed with PATCH (no Content-Range) answer 201 but store the blob with its last byte flipped"),
    f("upload-cancel-ignored", &["push.upload.cancel"], "DELETE of an upload session answers 204 but the session stays"),
    f("digest-mismatch-accepted", &["push.digest.mismatch"], "a closing PUT whose digest does not match the content is stored anyway (201)"),
    f("invalid-digest-404", &["push.digest.invalid-400"], "a malformed digest on the closing PUT answers 404 instead of 400"),
    f("sha512-not-pullable", &["push.digest.sha512"], "sha512 uploads answer 201 but the blob is only stored under its sha256 digest"),
    f("mount-not-copied", &["push.mount.from", "clients.crane.copy", "clients.skopeo.copy", "clients.podman.copy"], "a mount with from= answers 201 but the blob is not added to the target repository"),
    f("mount-without-from-not-copied", &["push.mount.without-from"], "a mount without from= answers 201 but the blob is not added to the target repository"),
    f("mount-bad-location", &["push.mount.from", "push.mount.sha512"], "a mount answers 201 with a Location naming another (absent) blob"),
    f("mount-wrong-digest-header", &["push.mount.from", "push.mount.sha512"], "a mount answers 201 with a Docker-Content-Digest naming another (absent) blob"),
    f("mount-sha512-as-sha256", &["push.mount.sha512"], "a mount of a sha512 blob answers 201 with Location and Docker-Content-Digest naming its sha256 digest, under which it is not stored"),
    f("mount-unknown-blob-201", &["push.mount.unknown-blob"], "a mount of a digest that exists nowhere answers 201"),
    f("manifest-put-by-tag-200", &["push.manifest.put-by-tag"], "manifest PUT by tag answers 200 instead of 201"),
    f("manifest-put-by-digest-no-location", &["push.manifest.put-by-digest"], "manifest PUT by digest answers 201 without Location"),
    f("manifest-put-wrong-digest-header", &["push.manifest.digest-header"], "manifest PUT answers a Docker-Content-Digest that is not the digest of the pushed bytes"),
    f("manifest-reformatted", &["push.manifest.exact-bytes"], "manifests are stored re-serialized (compact JSON) instead of byte-exact"),
    f("nested-index-rejected", &["push.manifest.index"], "an image index that lists another index is refused (400 MANIFEST_INVALID)"),
    f("artifact-rejected", &["push.manifest.artifact", "clients.crane.artifact", "clients.skopeo.artifact"], "image manifests with an artifactType are refused (400 MANIFEST_INVALID)"),
    f("empty-layers-rejected", &["push.manifest.no-layers"], "image manifests with an empty layers list are refused (400 MANIFEST_INVALID)"),
    f("missing-blob-wrong-code", &["push.manifest.missing-blobs"], "manifests referencing unknown blobs are refused with MANIFEST_INVALID instead of MANIFEST_BLOB_UNKNOWN"),
    f("tag-param-no-oci-tag", &["push.manifest.tag-param"], "?tag= parameters create the tags but no OCI-Tag header is sent"),
    f("tag-param-max-5", &["push.manifest.tag-param-10"], "a manifest PUT with more than 5 ?tag= parameters answers 414"),
    f("manifest-content-type-params-rejected", &["push.manifest.content-type-params"], "a manifest PUT whose Content-Type has parameters is refused (400 MANIFEST_INVALID)"),
    f("manifest-content-type-params-kept", &["push.manifest.content-type-params"], "a manifest PUT's Content-Type is stored and served back with its parameters"),
    f("manifest-limit-1mib", &["push.manifest.size-4mib"], "manifests over 1 MiB are refused with 413 (clients expect at least 4 MB)"),
    f("manifest-no-size-limit", &["push.manifest.too-large-413"], "no manifest size limit: a 16 MiB manifest is accepted"),
    f("manifest-put-bad-location", &["push.manifest.location"], "manifest PUT answers a Location naming another (absent) manifest"),
    // ---- content discovery ----
    f("tags-list-bad-json", &["discovery.tags.list", "clients.crane.tags", "clients.skopeo.tags", "clients.podman.tags"], "tags/list answers {\"name\", \"tag\"} without the \"tags\" key"),
    f("tags-list-short-name", &["discovery.tags.name"], "tags/list \"name\" is only the last path component of the repository"),
    f("tags-list-drops-last", &["discovery.tags.contains-pushed"], "tags/list never lists the last tag"),
    f("tags-list-unsorted", &["discovery.tags.order"], "tags/list pages are in reverse order"),
    f("blobs-readable-from-any-repo", &["pull.isolation.other-repo-404"], "GET/HEAD of a blob answers from the global store through any repository name"),
    f("manifests-readable-from-any-repo", &["pull.isolation.other-repo-404"], "GET/HEAD of a manifest by digest answers through any repository name"),
    f("manifest-digest-unverified", &["push.manifest.digest-mismatch"], "a manifest PUT by digest is stored under that digest without hashing the body"),
    f("tags-list-keeps-deleted", &["management.tag.unlisted", "management.manifest.tags-unlisted"], "tags/list still lists a tag after the tag, or the manifest it pointed to, was deleted"),
    f("tags-list-null-when-empty", &["discovery.tags.n-zero"], "an empty tags/list page has \"tags\": null instead of []"),
    f("tags-n-ignored", &["discovery.tags.n"], "tags/list ignores n and returns every tag without Link"),
    f("tags-n-zero-returns-all", &["discovery.tags.n-zero"], "tags/list?n=0 returns every tag"),
    f("tags-last-inclusive", &["discovery.tags.last"], "tags/list?last=t includes t itself"),
    f("tags-last-without-n-ignored", &["discovery.tags.last-without-n"], "tags/list?last=t without n ignores last and lists from the first tag"),
    f("tags-empty-lists-digests", &["discovery.tags.empty"], "tags/list of a repository without tags lists the digests of its manifests as tags"),
    f("tags-link-malformed", &["discovery.tags.link-header"], "the tags Link header has no <…> around the URL and no quotes around next"),
    f("tags-link-skips", &["discovery.tags.pagination-walk"], "the tags Link header skips one tag between pages"),
    f("tags-unknown-repo-phantom-tag", &["discovery.tags.unknown-repo-404"], "tags/list of an unknown repository answers 200 listing a tag \"latest\" that does not exist"),
    f("retag-ignored", &["discovery.tags.retag"], "pushing an existing tag again answers 201 but the tag keeps its old manifest"),
    f("deep-names-rejected", &["discovery.names.multi-component"], "repository names with more than two path components are refused (NAME_INVALID)"),
    f("long-names-rejected", &["discovery.names.long-name"], "repository names longer than 150 characters are refused (NAME_INVALID)"),
    f("tag-max-100", &["discovery.names.tag-128"], "tags longer than 100 characters are refused"),
    // ---- content management ----
    f("tag-delete-200", &["management.tag.delete"], "DELETE of a tag answers 200 instead of 202"),
    f("tag-delete-ignored", &["management.tag.deleted-404"], "DELETE of a tag answers 202 but the tag stays"),
    f("manifest-delete-200", &["management.manifest.delete"], "DELETE of a manifest answers 200 instead of 202"),
    f("manifest-delete-ignored", &["management.manifest.deleted-404", "clients.crane.delete", "clients.skopeo.delete"], "DELETE of a manifest by digest answers 202 but the manifest stays"),
    f("manifest-delete-keeps-tags", &["management.manifest.deleted-404"], "DELETE of a manifest leaves the tags that pointed to it resolvable"),
    f("manifest-delete-unknown-repo-202", &["management.manifest.delete-unknown-repo-404"], "DELETE of a manifest in a repository that does not exist answers 202"),
    f("blob-delete-200", &["management.blob.delete"], "DELETE of a blob answers 200 instead of 202"),
    f("blob-delete-ignored", &["management.blob.deleted-404"], "DELETE of a blob answers 202 but the blob stays"),
    f("blob-delete-unknown-202", &["management.blob.delete-unknown-404"], "DELETE of an unknown blob answers 202"),
    // ---- referrers ----
    f("subject-missing-rejected", &["referrers.push.subject-missing"], "manifests whose subject does not exist are refused with MANIFEST_BLOB_UNKNOWN"),
    f("no-oci-subject", &["referrers.push.oci-subject"], "manifest PUT with a subject answers without the OCI-Subject header"),
    f("referrers-wrong-content-type", &["referrers.api.list"], "the referrers list is served as application/json"),
    f("referrers-null-when-empty", &["referrers.api.unknown-subject-empty"], "an empty referrers list has \"manifests\": null instead of []"),
    f("referrers-wrong-size", &["referrers.api.descriptors"], "referrer descriptors carry a size one byte too large"),
    f("referrers-artifact-type-from-config", &["referrers.api.artifact-type"], "referrer artifactType is always the config media type, even when the manifest has artifactType"),
    f("referrers-no-config-fallback", &["referrers.api.artifact-type-config"], "referrer artifactType is omitted when the manifest has none (no config.mediaType fallback)"),
    f("referrers-skip-indexes", &["referrers.api.index-referrer"], "image indexes with a subject are not listed as referrers"),
    f("referrers-no-annotations", &["referrers.api.annotations"], "referrer descriptors carry no annotations"),
    f("referrers-all-repos", &["referrers.api.same-repo-only"], "the referrers list includes referrers from every repository"),
    f("referrers-unknown-subject-404", &["referrers.api.unknown-subject-empty"], "referrers of an unknown subject answer 404"),
    f("referrers-invalid-digest-200", &["referrers.api.invalid-digest-400"], "referrers of a malformed digest answer 200 with an empty list"),
    f("referrers-filter-not-applied", &["referrers.api.filter"], "?artifactType= answers OCI-Filters-Applied: artifactType but does not filter"),
    f("referrers-filter-unsupported", &["referrers.api.filter"], "?artifactType= is ignored (no filtering, no OCI-Filters-Applied)"),
    f("referrers-filter-cache-no-header", &["referrers.api.filter"], "a repeated ?artifactType= query is answered filtered from a cache without OCI-Filters-Applied (olareg 0.2.2)"),
    f("referrers-keep-deleted", &["referrers.api.removed-after-delete"], "deleted referrers stay in the referrers list"),
    f("referrers-pagination-repeats", &["referrers.api.pagination"], "referrers pages of 2; each Link repeats the last descriptor of the page"),
    f("referrers-need-subject-first", &["referrers.api.subject-pushed-later"], "referrers pushed before their subject are never listed"),
    f("referrers-tag-schema-corrupt", &["referrers.fallback.tag-schema"], "no referrers API (404), and GET of a referrers tag (<alg>-<hex>) appends a newline to the stored index"),
    // ---- stress (races: an atomic change split in two, with a moment between) ----
    f("blob-published-before-bytes", &["stress.blob.same-digest"], "storing a blob links it, empty, before its bytes are written (in place, over any stored copy): GETs meanwhile get 200 with an empty body"),
    f("blob-repush-unlinks", &["stress.manifest.shared-blobs"], "pushing a blob the repository already has unlinks it while it is written again: a manifest PUT meanwhile gets 400 MANIFEST_BLOB_UNKNOWN (as docker-registry 2.8 did)"),
    f("manifest-put-conflict-500", &["stress.manifest.same-manifest"], "a manifest PUT while another PUT of the same manifest is in flight answers 500"),
    f("tag-update-not-atomic", &["stress.tag.move-while-reading"], "moving a tag removes it, then sets it a moment later: GETs of the tag meanwhile answer 404"),
    f("delete-during-write-500", &["stress.delete.racing-reads"], "a manifest DELETE while a manifest PUT to the same repository is in flight answers 500"),
    f("upload-id-clock", &["stress.upload.parallel-sessions"], "upload session ids come from the millisecond clock: sessions started in the same millisecond share one"),
    f("referrers-lost-update", &["stress.referrers.same-subject"], "the referrers list is kept by read, wait, write: referrers pushed at once to one subject are lost"),
    f("if-match-ignored", &["stress.referrers.tag-schema"], "manifests carry an ETag but a PUT with a stale If-Match is accepted: conditional pushes lose updates"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every fault named in the registry code is declared, and every declared fault is used.
    #[test]
    fn declared_faults_match_the_code() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("state.rs"),
            include_str!("http.rs"),
            include_str!("router.rs"),
            include_str!("blobs.rs"),
            include_str!("uploads.rs"),
            include_str!("manifests.rs"),
            include_str!("tags.rs"),
            include_str!("referrers.rs"),
            include_str!("names.rs"),
        ];
        let mut used = HashSet::new();
        for src in sources {
            let mut rest = src;
            while let Some(i) = rest.find("fault(\"") {
                rest = &rest[i + 7..];
                if let Some(j) = rest.find('"') {
                    used.insert(&rest[..j]);
                }
            }
        }
        let declared: HashSet<&str> = ALL.iter().map(|f| f.name).collect();
        assert_eq!(declared.len(), ALL.len(), "duplicate fault names");
        let undeclared: Vec<_> = used.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "faults used but not declared: {undeclared:?}"
        );
        let unused: Vec<_> = declared.difference(&used).collect();
        assert!(
            unused.is_empty(),
            "faults declared but never used: {unused:?}"
        );
        for f in ALL {
            assert!(!f.breaks.is_empty(), "{} breaks nothing", f.name);
            assert!(
                f.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{} is not kebab-case",
                f.name
            );
        }
    }
}
