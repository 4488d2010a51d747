//! The reader hot path allocates nothing per read: the number of heap
//! allocations a reader makes does not grow with the number of reads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use torn::classify::Classifier;
use torn::engine::reader::{ReaderRun, run_reader};
use torn::engine::{Live, Shared};
use torn::format::Template;
use torn::token::TokenCodec;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_for(reads: u64, classifier: &Classifier, path: &std::path::Path) -> u64 {
    allocations_paced(reads, classifier, path, torn::case::Pace::Spin)
}

fn allocations_paced(
    reads: u64,
    classifier: &Classifier,
    path: &std::path::Path,
    pace: torn::case::Pace,
) -> u64 {
    let shared = Shared::new(1);
    if pace == torn::case::Pace::Wait {
        // A window stays open: a waiting reader reads back to back.
        shared.window_open();
    }
    let live = Live::default();
    let before = ALLOCS.with(Cell::get);
    let opts = ReaderRun {
        profile: torn::engine::Profile::Reread,
        lock: false,
        reads: Some(reads),
        evidence_per_class: 3,
        bucket_ns: 1_000_000,
        pace,
    };
    let tally = run_reader(0, path, classifier, &shared, &live, Instant::now(), opts);
    let after = ALLOCS.with(Cell::get);
    assert_eq!(tally.reads, reads);
    assert_eq!(tally.anomalies(), 0);
    after - before
}

#[test]
fn reader_allocations_do_not_grow_with_reads() {
    for name in [
        "hermes",
        "claude-settings",
        "codex-env",
        "databrickscfg",
        "credentials-toml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let classifier = Classifier::new(Template::builtin(name).unwrap(), TokenCodec::new(5), 1);
        std::fs::write(&path, classifier.template.render_vec(&classifier.codec, 0)).unwrap();
        let few = allocations_for(100, &classifier, &path);
        let many = allocations_for(20_000, &classifier, &path);
        assert!(few > 0, "the counter sees the reader's buffer allocation");
        assert_eq!(
            few, many,
            "{name}: allocations grew with reads ({few} for 100 reads, {many} for 20,000)"
        );
    }
}

#[test]
fn waiting_readers_inside_a_window_do_not_allocate_per_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let classifier = Classifier::new(Template::builtin("hermes").unwrap(), TokenCodec::new(5), 1);
    std::fs::write(&path, classifier.template.render_vec(&classifier.codec, 0)).unwrap();
    let few = allocations_paced(100, &classifier, &path, torn::case::Pace::Wait);
    let many = allocations_paced(20_000, &classifier, &path, torn::case::Pace::Wait);
    assert!(few > 0, "the counter sees the reader's buffer allocation");
    assert_eq!(few, many, "waiting: {few} for 100 reads, {many} for 20,000");
}

/// A learned shape that is byte-stable goes through the same exact path,
/// and so does a semantic one for reads that are byte-identical to it.
#[test]
fn learned_shapes_take_the_same_allocation_free_path() {
    let text = "{\n  \"env\": {\n    \"ANTHROPIC_AUTH_TOKEN\": \"{{TOKEN}}\"\n  },\n  \"includeCoAuthoredBy\": false\n}";
    let learned = Template::new(
        torn::shape::ORIGIN,
        torn::format::Format::Json,
        "env.ANTHROPIC_AUTH_TOKEN",
        text,
    )
    .unwrap();
    let exact = Classifier::new(learned, TokenCodec::new(5), 1);
    let semantic = exact.clone().semantic(vec!["updated_at".into()]).unwrap();
    for classifier in [exact, semantic] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, classifier.template.render_vec(&classifier.codec, 0)).unwrap();
        let few = allocations_for(100, &classifier, &path);
        let many = allocations_for(20_000, &classifier, &path);
        assert_eq!(few, many, "learned: {few} for 100 reads, {many} for 20,000");
    }
}

/// Raw shapes and tokens stored base64-encoded (decoded on the stack) take
/// the same allocation-free path.
#[test]
fn raw_and_encoded_shapes_allocate_nothing_per_read() {
    for (format, text) in [
        (torn::format::Format::Raw, "a=1\n//r.org/:_authToken={{TOKEN}}\n"),
        (torn::format::Format::Ini, "[svc]\nci = {{base64:{{TOKEN}}}}\n"),
        (
            torn::format::Format::Json,
            "{\"auth\": \"{{base64:ci-bot:{{TOKEN}}}}\"}",
        ),
    ] {
        let learned = Template::learned(torn::shape::ORIGIN, format, "", text, true)
            .unwrap()
            .0;
        let classifier = Classifier::new(learned, TokenCodec::new(5), 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, classifier.template.render_vec(&classifier.codec, 0)).unwrap();
        let few = allocations_for(100, &classifier, &path);
        let many = allocations_for(20_000, &classifier, &path);
        assert_eq!(few, many, "{text:?}: {few} for 100 reads, {many} for 20,000");
    }
}

/// A semantic shape whose reads are not byte-identical to its template
/// parses each new byte string once per reader; its memo answers every
/// later read of the same bytes without allocating.
#[test]
fn semantic_reads_of_seen_bytes_allocate_nothing() {
    let text = "{\n  \"env\": {\n    \"ANTHROPIC_AUTH_TOKEN\": \"{{TOKEN}}\"\n  },\n  \"updated_at\": 1\n}";
    let learned = Template::new(
        torn::shape::ORIGIN,
        torn::format::Format::Json,
        "env.ANTHROPIC_AUTH_TOKEN",
        text,
    )
    .unwrap();
    let classifier = Classifier::new(learned, TokenCodec::new(5), 1)
        .semantic(vec!["updated_at".into()])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut bytes = classifier.template.render_vec(&classifier.codec, 0);
    bytes.extend_from_slice(b"\n");
    std::fs::write(&path, bytes).unwrap();
    let few = allocations_for(100, &classifier, &path);
    let many = allocations_for(20_000, &classifier, &path);
    assert_eq!(few, many, "semantic: {few} for 100 reads, {many} for 20,000");
}
