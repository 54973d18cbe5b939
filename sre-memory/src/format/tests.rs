//! Round trips of the format: entries with and without metadata, CRLF, fences.

use pretty_assertions::assert_eq;

use super::*;
use crate::clock::Timestamp;

const SAMPLE: &str = "# Team\n\nSome prose.\n\n- Alice owns checkout. <!-- m-1 created=2026-11-01T10:00:00Z updated=2026-11-01T10:00:00Z source=user verified=2026-11-01T10:00:00Z status=active -->\n- plain bullet\n  continued here\n<!-- m-2 source=\"session 7\" status=deprecated note=\"moved to \\\"ops\\\"\" -->\n* Bob was on call.\n\n```\n- not an entry <!-- m-9 status=active -->\n<!-- unclosed in fence\n```\n- after fence\n";

#[test]
fn parses_entries_with_and_without_metadata() {
    let doc = Document::parse(SAMPLE);
    let e: Vec<_> = doc.entries().collect();
    assert_eq!(e.len(), 4, "{e:#?}");
    assert_eq!(e[0].id, "m-1");
    assert_eq!(e[0].text, "Alice owns checkout.");
    assert_eq!(e[0].meta.source.as_deref(), Some("user"));
    assert!(e[1].id.starts_with("h-"));
    assert_eq!(e[1].full_text(), "plain bullet\ncontinued here");
    assert_eq!(e[2].id, "m-2");
    assert_eq!(e[2].meta.status, Status::Deprecated);
    assert_eq!(e[2].meta.note.as_deref(), Some("moved to \"ops\""));
    assert_eq!(e[2].meta.source.as_deref(), Some("session 7"));
    assert_eq!(e[3].text, "after fence");
    assert_eq!(doc.render(), SAMPLE);
    assert!(doc.issues.is_empty(), "{:?}", doc.issues);
}

#[test]
fn canonical_render_round_trips() {
    let mut doc = Document::parse(SAMPLE);
    let e = doc.get_mut("m-2").unwrap();
    e.meta.superseded_by = Some("m-5".into());
    e.marker = Some("superseded by m-5".into());
    let text = doc.render();
    let again = Document::parse(&text);
    let e2 = again.get("m-2").unwrap();
    assert_eq!(e2.text, "Bob was on call.");
    assert_eq!(e2.meta.superseded_by.as_deref(), Some("m-5"));
    assert_eq!(e2.marker.as_deref(), Some("superseded by m-5"));
    assert_eq!(again.render(), text);
    assert_eq!(again.entries().count(), 4);
}

#[test]
fn derived_ids_are_stable_and_unique() {
    let mut doc = Document::parse("- same\n- same\n- other\n");
    let ids: Vec<_> = doc.entries().map(|e| e.id.clone()).collect();
    assert_eq!(ids[0], derived_id("same"));
    assert_eq!(ids[1], format!("{}-2", ids[0]));
    assert_ne!(ids[0], ids[2]);
    // Attaching metadata to the first keeps every id.
    doc.get_mut(&ids[0]).unwrap().meta.status = Status::Deprecated;
    let again = Document::parse(&doc.render());
    assert_eq!(
        again.entries().map(|e| e.id.clone()).collect::<Vec<_>>(),
        ids
    );
    // Even after its text changes, the second does not take the first one's id.
    let mut doc = again;
    doc.get_mut(&ids[0]).unwrap().text = "changed".into();
    let again = Document::parse(&doc.render());
    assert_eq!(
        again.entries().map(|e| e.id.clone()).collect::<Vec<_>>(),
        ids
    );
    assert!(again.issues.is_empty(), "{:?}", again.issues);
}

#[test]
fn crlf_is_kept() {
    let text = "# T\r\n- a\r\n";
    let mut doc = Document::parse(text);
    assert_eq!(doc.render(), text);
    doc.push(Entry::new("m-3", "b", "user", Timestamp(0)));
    let out = doc.render();
    assert!(out.ends_with("-->\r\n"), "{out:?}");
    assert!(!out.replace("\r\n", "").contains('\n'));
}

#[test]
fn unclosed_fence_is_reported_and_closed_before_appending() {
    let mut doc = Document::parse("# T\n```\n- code\n");
    assert_eq!(
        doc.issues,
        vec![Issue {
            line: 2,
            message: "unclosed code fence".into()
        }]
    );
    assert_eq!(doc.entries().count(), 0);
    doc.push(Entry::new("m-1", "fact", "user", Timestamp(0)));
    let again = Document::parse(&doc.render());
    assert_eq!(
        again.entries().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["m-1"]
    );
    assert!(again.issues.is_empty());
}

#[test]
fn sanitizes_facts() {
    let e = Entry::new("m-1", "a <!-- b --> ⚠ c\nd", "user", Timestamp(0));
    let doc = Document::parse(&e.render("\n"));
    assert_eq!(doc.get("m-1").unwrap().text, e.text);
}

#[test]
fn an_entry_inserted_after_the_last_item_stays_an_entry() {
    // The last item's continuation opens a fence that is never closed.
    let mut doc = Document::parse("- a\n  ```\n  code\n");
    let id = doc.entries().next().unwrap().id.clone();
    doc.get_mut(&id).unwrap().meta.status = Status::Superseded;
    doc.insert_after(&id, Entry::new("m-2", "b", "user", Timestamp(0)));
    let again = Document::parse(&doc.render());
    assert_eq!(again.get("m-2").map(|e| e.text.as_str()), Some("b"));

    // An item line that opened a comment: its metadata now closes it, so the `~~~` that
    // was inside the comment opens a fence running over the last item.
    let mut doc = Document::parse("- x <!-- open\n~~~\n-->\n- a\n");
    let ids: Vec<String> = doc.entries().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        doc.get_mut(id).unwrap().meta.status = Status::Deprecated;
    }
    doc.insert_after(&ids[1], Entry::new("m-3", "c", "user", Timestamp(0)));
    let again = Document::parse(&doc.render());
    assert_eq!(again.get("m-3").map(|e| e.text.as_str()), Some("c"));
    assert!(again.issues.is_empty(), "{:?}", again.issues);
}
