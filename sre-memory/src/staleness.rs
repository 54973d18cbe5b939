//! Staleness rules: which entries need review, and the note shown for them.
//!
//! An entry needs review when it is
//! - active and was last verified (else updated, else created) more than
//!   [`StalenessPolicy::review_after`] ago: `verified 43 days ago`;
//! - in conflict with another entry (a concurrent update kept both): `conflicts with m-18`;
//! - superseded (`superseded by m-20`) or deprecated (`deprecated: moved to team.md`): these
//!   are not "to review" but are always annotated so nobody acts on them by mistake.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::format::{Entry, Status};

/// When entries count as stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StalenessPolicy {
    /// Entries not verified for longer than this need review. Default: 30 days.
    pub review_after: Duration,
}

impl Default for StalenessPolicy {
    fn default() -> Self {
        StalenessPolicy {
            review_after: Duration::from_secs(30 * 86_400),
        }
    }
}

impl StalenessPolicy {
    /// Whether an active entry is past its review age at `now`.
    pub fn is_stale(&self, entry: &Entry, now: Timestamp) -> bool {
        entry.is_active()
            && entry.last_verified().is_some_and(|t| {
                now.0 - t.0 > i64::try_from(self.review_after.as_secs()).unwrap_or(i64::MAX)
            })
    }

    /// Whether the entry belongs in the review view (stale or in conflict).
    pub fn needs_review(&self, entry: &Entry, now: Timestamp) -> bool {
        (entry.is_active() && !entry.meta.conflicts.is_empty()) || self.is_stale(entry, now)
    }

    /// The note shown next to the entry (in `retrieve` hits and as the file marker).
    pub fn note(&self, entry: &Entry, now: Timestamp) -> Option<String> {
        let mut parts = Vec::new();
        match &entry.meta.status {
            Status::Active => {}
            Status::Deprecated => parts.push(match &entry.meta.note {
                Some(n) => format!("deprecated: {n}"),
                None => "deprecated".to_string(),
            }),
            Status::Superseded => parts.push(match &entry.meta.superseded_by {
                Some(by) => format!("superseded by {by}"),
                None => "superseded".to_string(),
            }),
            Status::Other(s) => parts.push(s.clone()),
        }
        if !entry.meta.conflicts.is_empty() {
            parts.push(format!(
                "conflicts with {} (reconcile)",
                entry.meta.conflicts.join(", ")
            ));
        }
        if self.is_stale(entry, now)
            && let Some(t) = entry.last_verified()
        {
            parts.push(format!("verified {} days ago", t.days_until(now)));
        }
        if parts.is_empty() {
            None
        } else {
            Some(parts.join("; "))
        }
    }
}

/// One line of the review view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewItem {
    /// Entry id.
    pub id: String,
    /// File, relative to the memory root.
    pub path: String,
    /// 1-based line in that file.
    pub line: usize,
    /// Entry text.
    pub text: String,
    /// Why it needs review.
    pub note: String,
}

/// The review view as Markdown.
pub fn render_review(items: &[ReviewItem]) -> String {
    let mut out = String::from("# Memory review\n\n");
    if items.is_empty() {
        out.push_str("Nothing to review.\n");
        return out;
    }
    out.push_str(&format!(
        "{} entries need review (verify, update, deprecate or reconcile them):\n\n",
        items.len()
    ));
    for i in items {
        out.push_str(&format!(
            "- [{}]({}#L{}) {}: {}\n",
            i.id, i.path, i.line, i.note, i.text
        ));
    }
    out
}
