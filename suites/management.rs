//! Content management bucket (spec §content-management): deleting tags, manifests, blobs.
//!
//! "Registries MAY implement deletion or they MAY disable it": a delete refused with 400 or
//! 405 makes the check unsupported, and the checks that need the deletion are skipped. Reads
//! after a delete may take up to `--consistency-wait` to show it.

use super::common::*;
use crate::prelude::*;

const M: Bucket = Bucket::ContentManagement;

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(M);

    "management.tag" => tag {
        pub const TAG_DELETE = CheckMeta::new(
            "management.tag.delete",
            M,
            Level::Must,
            "deleting-tags",
            "DELETE of a tag answers 202 (400/405 when tag deletion is disabled)",
        ).reqs(&["management.delete.optional", "management.delete.tag-optional", "management.tag.delete-202", "management.tag.disabled-400-405"]);
        pub const TAG_DELETED_404 = CheckMeta::new(
            "management.tag.deleted-404",
            M,
            Level::Must,
            "deleting-tags",
            "A deleted tag answers 404",
        ).reqs(&["pull.manifest.unknown-404", "management.delete.tag-optional", "management.tag.gone-after-delete"]);
        pub const TAG_UNLISTED = CheckMeta::new(
            "management.tag.unlisted",
            M,
            Level::Must,
            "deleting-tags",
            "A deleted tag is no longer in the repository's tag list",
        ).reqs(&["discovery.tags.body-content"]);
    }

    "management.manifest" => manifest {
        pub const MANIFEST_DELETE = CheckMeta::new(
            "management.manifest.delete",
            M,
            Level::Must,
            "deleting-manifests",
            "DELETE of a manifest by digest answers 202 (400/405 when deletion is disabled)",
        ).reqs(&["management.delete.optional", "management.manifest.delete-202", "management.manifest.disabled-400-405"]);
        pub const MANIFEST_DELETED_404 = CheckMeta::new(
            "management.manifest.deleted-404",
            M,
            Level::Must,
            "deleting-manifests",
            "A deleted manifest answers 404 by digest and by the tags that pointed to it",
        ).reqs(&["pull.manifest.unknown-404", "management.manifest.gone-after-delete"]);
        pub const MANIFEST_TAGS_UNLISTED = CheckMeta::new(
            "management.manifest.tags-unlisted",
            M,
            Level::Must,
            "deleting-manifests",
            "The tags of a deleted manifest are no longer in the repository's tag list",
        ).reqs(&["discovery.tags.body-content"]);
        pub const MANIFEST_DELETE_UNKNOWN_REPO = CheckMeta::new(
            "management.manifest.delete-unknown-repo-404",
            M,
            Level::Must,
            "deleting-manifests",
            "DELETE of a manifest in a repository that does not exist answers 404",
        ).reqs(&["management.manifest.unknown-repo-404"]);
    }

    "management.blob" => blob {
        pub const BLOB_DELETE = CheckMeta::new(
            "management.blob.delete",
            M,
            Level::Must,
            "deleting-blobs",
            "DELETE of a blob answers 202 (400/405 when blob deletion is disabled)",
        ).reqs(&["management.delete.optional", "management.blob.delete-202", "management.blob.disabled-400-405"]);
        pub const BLOB_DELETED_404 = CheckMeta::new(
            "management.blob.deleted-404",
            M,
            Level::Must,
            "deleting-blobs",
            "A deleted blob answers 404 to GET and HEAD",
        ).reqs(&["pull.blob.unknown-404", "pull.head.unknown-404"]);
        pub const BLOB_DELETE_UNKNOWN = CheckMeta::new(
            "management.blob.delete-unknown-404",
            M,
            Level::Must,
            "deleting-blobs",
            "DELETE of an unknown blob answers 404",
        ).reqs(&["management.blob.unknown-404"]);
    }
}

const R_PULL: Rule = Rule::req("pull.manifest.get-200");
/// What a deleted manifest (or a deleted tag) answers: "Once deleted, a GET … will return a
/// 404" is the main and 1.1 wording; the MUST, in every version, is the pull section's.
const R_MANIFEST_404: Rule = Rule::req("pull.manifest.unknown-404");
/// The tags a list names "are each tags on the repository": a deleted one is not.
const R_LISTED: Rule = Rule::req("discovery.tags.body-content");

/// How a registry answered a DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// 202 Accepted, as the spec requires.
    Accepted,
    /// Another 2xx: the thing is presumably gone, but the status is not the one required.
    OtherSuccess,
    /// 400 or 405: deletion is disabled, which the spec allows.
    Disabled,
    /// Anything else: the delete failed.
    Refused,
}

impl Deleted {
    pub fn of(status: u16) -> Deleted {
        match status {
            202 => Deleted::Accepted,
            200..=299 => Deleted::OtherSuccess,
            400 | 405 => Deleted::Disabled,
            _ => Deleted::Refused,
        }
    }
    pub fn done(self) -> bool {
        matches!(self, Deleted::Accepted | Deleted::OtherSuccess)
    }
}

/// Sends a DELETE and judges it: 202 passes, 400/405 is an allowed refusal (unsupported),
/// anything else violates `rule`. Returns how it went, for the checks that depend on it.
async fn judge_delete(
    ck: &mut Ck,
    path: String,
    what: &str,
    rule: impl Into<Rule> + Copy,
    disabled: Rule,
) -> (Res, Deleted) {
    let r = match ck.send(Request::delete(path)).await {
        Ok(r) => r,
        Err(e) => return (Err(e), Deleted::Refused),
    };
    let d = Deleted::of(r.status);
    let res = match d {
        Deleted::Accepted => Ok(()),
        Deleted::Disabled => Err(Fail::Unsupported(format!(
            "{what} deletion is disabled: {} answered {} ({})",
            r.request,
            r.summary(),
            ck.cite(disabled)
        ))),
        _ => Err(ck.fail(
            rule,
            format!(
                "{} answered {}; expected 202 (or 400/405 if {what} deletion is disabled)",
                r.request,
                r.summary()
            ),
        )),
    };
    (res, d)
}

/// A DELETE outside any check (its judging check was filtered out, a later one needs it done).
async fn delete_quietly(sc: &Sc, path: String) -> Deleted {
    match sc.send(Request::delete(path)).await {
        Ok(r) => Deleted::of(r.status),
        Err(_) => Deleted::Refused,
    }
}

/// Polls until every request in `reqs` answers 404, for at most `wait`. Returns the first
/// response that still did not, after the wait.
async fn until_404(
    ck: &mut Ck,
    wait: std::time::Duration,
    reqs: &[Request],
) -> Res<Option<Response>> {
    let mut retry = Retry::new(wait);
    'again: loop {
        for q in reqs {
            let r = ck.send(q.clone()).await?;
            if r.status != 404 {
                if retry.again(ck).await? {
                    continue 'again;
                }
                return Ok(Some(r));
            }
        }
        return Ok(None);
    }
}

fn wait_note(wait: std::time::Duration) -> String {
    if wait.is_zero() {
        " (pass --consistency-wait for registries that apply deletes asynchronously)".into()
    } else {
        format!(" (after retrying for {:.1} s)", wait.as_secs_f64())
    }
}

async fn tag(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let wait = sc.cfg().consistency_wait;
    let t = sc.tag("deltag");
    let img = setup_tagged_image(&mut sc, &repo, "tagdel", &[150], &t).await;
    let Some(img) = img else { return };
    let m = &img.manifest;

    let mut deleted = Deleted::Refused;
    sc.check(&TAG_DELETE, async |ck| {
        let (res, d) = judge_delete(
            ck,
            manifest_path(&repo, &t),
            "tag",
            Rule::req("management.tag.delete-202"),
            Rule::req("management.tag.disabled-400-405"),
        )
        .await;
        deleted = d;
        res
    })
    .await;

    if sc.outcome(TAG_DELETE.id).is_none() {
        deleted = delete_quietly(&sc, manifest_path(&repo, &t)).await;
    }
    if !deleted.done() {
        let why = format!("the tag was not deleted (see {})", TAG_DELETE.id);
        sc.skip(&TAG_DELETED_404, &why);
        sc.skip(&TAG_UNLISTED, &why);
        return;
    }
    sc.check(&TAG_DELETED_404, async |ck| {
        if let Some(r) = until_404(ck, wait, &[get_manifest(&repo, &t)]).await? {
            return Err(ck.fail(R_MANIFEST_404, format!("after the tag was deleted, {} answered {}{}", r.request, r.summary(), wait_note(wait))));
        }
        // Tag deletion is named apart from manifest deletion, but no sentence keeps the
        // manifest (nor asks that it be kept): losing it is noted, not judged.
        let r = ck.send(get_manifest(&repo, &m.digest.to_string())).await?;
        if expect_manifest_body(ck, &r, m, R_PULL).is_err() {
            ck.note(format!("deleting tag {t:?} also removed its manifest: {} answered {}", r.request, r.summary()));
        }
        Ok(())
    })
    .await;

    sc.check(&TAG_UNLISTED, async |ck| unlisted(ck, wait, &repo, &t, "the tag was deleted").await)
        .await;
}

/// Judges that `tag` is gone from `repo`'s tag list (all pages), retrying for `wait`.
async fn unlisted(ck: &mut Ck, wait: std::time::Duration, repo: &str, tag: &str, after: &str) -> Res {
    let mut retry = Retry::new(wait);
    loop {
        let listed = match super::discovery::listed_tags(ck, repo).await? {
            None => {
                ck.note(format!("tags/list of {repo} answered 404 after {after}"));
                return Ok(());
            }
            Some(l) => l,
        };
        if !listed.iter().any(|x| x == tag) {
            return Ok(());
        }
        if !retry.again(ck).await? {
            return Err(ck.fail(
                R_LISTED,
                format!("after {after}, GET /v2/{repo}/tags/list still lists {tag:?} ({} tags listed){}", listed.len(), wait_note(wait)),
            ));
        }
    }
}

async fn manifest(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let wait = sc.cfg().consistency_wait;
    let t = sc.tag("delman");
    let unknown_repo = format!("{repo}/unknown-{}", sc.gen.token("unknown-repo", 10));
    let img = setup_tagged_image(&mut sc, &repo, "mandel", &[170], &t).await;
    let Some(img) = img else { return };
    let digest = img.manifest.digest.to_string();

    let mut deleted = Deleted::Refused;
    sc.check(&MANIFEST_DELETE, async |ck| {
        let (res, d) = judge_delete(
            ck,
            manifest_path(&repo, &digest),
            "manifest",
            Rule::req("management.manifest.delete-202"),
            Rule::first(&["management.manifest.disabled-400-405", "management.delete.optional"]),
        )
        .await;
        deleted = d;
        res
    })
    .await;

    if sc.outcome(MANIFEST_DELETE.id).is_none() {
        deleted = delete_quietly(&sc, manifest_path(&repo, &digest)).await;
    }
    if deleted.done() {
        sc.check(&MANIFEST_DELETED_404, async |ck| {
            let reqs = [get_manifest(&repo, &digest), get_manifest(&repo, &t)];
            match until_404(ck, wait, &reqs).await? {
                None => Ok(()),
                Some(r) => Err(ck.fail(
                    R_MANIFEST_404,
                    format!("after the manifest {digest} (tagged {t:?}) was deleted, {} answered {}{}", r.request, r.summary(), wait_note(wait)),
                )),
            }
        })
        .await;
        let after = format!("the manifest {digest} it pointed to was deleted");
        sc.check(&MANIFEST_TAGS_UNLISTED, async |ck| unlisted(ck, wait, &repo, &t, &after).await)
            .await;
    } else {
        let why = format!("the manifest was not deleted (see {})", MANIFEST_DELETE.id);
        sc.skip(&MANIFEST_DELETED_404, &why);
        sc.skip(&MANIFEST_TAGS_UNLISTED, &why);
    }

    // With deletion disabled, 400/405 may come before the repository lookup.
    let delete_works = sc.outcome(MANIFEST_DELETE.id) == Some(Outcome::Passed) || deleted.done();
    sc.check(&MANIFEST_DELETE_UNKNOWN_REPO, async |ck| {
        let r = ck
            .send(Request::delete(manifest_path(&unknown_repo, &digest)))
            .await?;
        if !delete_works && Deleted::of(r.status) == Deleted::Disabled {
            return Err(Fail::Unsupported(format!(
                "manifest deletion is disabled: {} answered {}",
                r.request, r.status
            )));
        }
        ck.expect_status(
            &r,
            &[404],
            Rule::req("management.manifest.unknown-repo-404"),
        )
    })
    .await;
}

async fn blob(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let wait = sc.cfg().consistency_wait;
    let never = sc.gen.blob("never-pushed", 99);
    let b = setup_with(&mut sc, "push a blob", async |sc| {
        let b = sc.gen.blob("doomed", 1234);
        push_blob(sc, &repo, &b).await?;
        Ok(b)
    })
    .await;
    let Some(b) = b else { return };
    let d = b.digest().clone();

    let mut deleted = Deleted::Refused;
    sc.check(&BLOB_DELETE, async |ck| {
        let (res, x) = judge_delete(
            ck,
            blob_path(&repo, &d),
            "blob",
            Rule::req("management.blob.delete-202"),
            Rule::first(&["management.blob.disabled-400-405", "management.delete.optional"]),
        )
        .await;
        deleted = x;
        res
    })
    .await;

    if sc.outcome(BLOB_DELETE.id).is_none() {
        deleted = delete_quietly(&sc, blob_path(&repo, &d)).await;
    }
    if !deleted.done() {
        let why = format!("the blob was not deleted (see {})", BLOB_DELETE.id);
        sc.skip(&BLOB_DELETED_404, &why);
        sc.skip(&BLOB_DELETE_UNKNOWN, &why);
        return;
    }
    sc.check(&BLOB_DELETED_404, async |ck| match until_404(ck, wait, &[get_blob(&repo, &d), head_blob(&repo, &d)]).await? {
        None => Ok(()),
        Some(r) => Err(ck.fail(Rule::req("pull.blob.unknown-404"), format!("after the blob was deleted, {} answered {}{}", r.request, r.summary(), wait_note(wait)))),
    })
    .await;

    sc.check(&BLOB_DELETE_UNKNOWN, async |ck| {
        let r = ck
            .send(Request::delete(blob_path(&repo, never.digest())))
            .await?;
        ck.expect_status(
            &r,
            &[404],
            Rule::req("management.blob.unknown-404"),
        )
    })
    .await;
}
