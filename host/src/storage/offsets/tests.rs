//! Tests of the source offset store: durability, the log format and its compaction, and the
//! partition limit.

use std::{fs::OpenOptions, io::Write};

use super::*;

fn map(pairs: &[(&str, Scalar)]) -> OffsetMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn partition(i: i64) -> OffsetMap {
    map(&[("p", Scalar::Int(i))])
}

fn offset(i: i64) -> Option<OffsetMap> {
    Some(map(&[("o", Scalar::Int(i))]))
}

const UNLIMITED: usize = usize::MAX;

#[tokio::test]
async fn offsets_survive_reopen_and_lookups_ignore_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/connect.offsets");
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    let partition = map(&[("a", Scalar::Int(1)), ("b", Scalar::String("x".into()))]);
    store
        .put(
            "c1",
            vec![(
                partition.clone(),
                Some(map(&[("position", Scalar::Int(42))])),
            )],
            UNLIMITED,
        )
        .await
        .unwrap();
    store
        .put(
            "c2",
            vec![(
                partition.clone(),
                Some(map(&[("position", Scalar::Int(7))])),
            )],
            UNLIMITED,
        )
        .await
        .unwrap();
    drop(store);

    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    let reordered = map(&[("b", Scalar::String("x".into())), ("a", Scalar::Int(1))]);
    assert_eq!(
        store.get("c1", &reordered),
        Some(map(&[("position", Scalar::Int(42))]))
    );
    assert_eq!(
        store.get("c2", &partition),
        Some(map(&[("position", Scalar::Int(7))]))
    );
    assert_eq!(store.connector_offsets("c1").len(), 1);
    assert_eq!(store.partition_count("c1"), 1);
    store
        .put("c1", vec![(partition.clone(), None)], UNLIMITED)
        .await
        .unwrap();
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(reopened.get("c1", &partition), None);
    assert_eq!(reopened.partition_count("c1"), 0);
    assert_eq!(reopened.connector_offsets("c2").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets");
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    let puts = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .put("c", vec![(partition(i), offset(i * 10))], UNLIMITED)
                .await
        })
    });
    for put in futures::future::join_all(puts).await {
        put.unwrap().unwrap();
    }
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(reopened.connector_offsets("c").len(), 50);
    assert_eq!(store.written.load(Ordering::SeqCst), 50);
}

#[test]
fn a_corrupt_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o");
    std::fs::write(&path, "{not json").unwrap();
    let error = FileOffsetStore::open(&path).unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    // A bad line followed by good ones is corruption, not a torn tail.
    std::fs::write(
        &path,
        format!(
            "{HEADER}\nnot an entry\n{}\n",
            line_for("c", &partition(1), offset(1).as_ref())
        ),
    )
    .unwrap();
    let error = FileOffsetStore::open(&path).unwrap_err().to_string();
    assert!(error.contains("line 2 is not JSON"), "{error}");
}

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o");
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    store
        .put("c", vec![(partition(1), offset(5))], UNLIMITED)
        .await
        .unwrap();
    drop(store);
    // A flush the crash cut short.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"key":["c",{"p":1}],"value":{"o":"#)
        .unwrap();
    drop(file);
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    assert_eq!(store.get("c", &partition(1)), offset(5));
    // The torn line is gone from the file, so later appends start on a line of their own.
    store
        .put("c", vec![(partition(2), offset(6))], UNLIMITED)
        .await
        .unwrap();
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(reopened.get("c", &partition(1)), offset(5));
    assert_eq!(reopened.get("c", &partition(2)), offset(6));
}

#[tokio::test]
async fn a_file_of_the_earlier_format_is_read_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o");
    std::fs::write(
        &path,
        r#"{"version":1,"offsets":[{"key":["c",{"file":"a"}],"value":{"position":3}}]}"#,
    )
    .unwrap();
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    let file = map(&[("file", Scalar::String("a".into()))]);
    assert_eq!(
        store.get("c", &file),
        Some(map(&[("position", Scalar::Int(3))]))
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(HEADER), "{text}");
}

#[tokio::test]
async fn a_flush_costs_what_changed_and_the_log_stays_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o");
    let store = Arc::new(FileOffsetStore::open(&path).unwrap());
    let many: Vec<_> = (0..2_000).map(|i| (partition(i), offset(0))).collect();
    store.put("c", many, UNLIMITED).await.unwrap();
    let after_bulk = std::fs::metadata(&path).unwrap().len();
    // One partition changes: the log grows by one line, not by the 2,000 live entries.
    store
        .put("c", vec![(partition(7), offset(1))], UNLIMITED)
        .await
        .unwrap();
    let grown = std::fs::metadata(&path).unwrap().len() - after_bulk;
    assert!(grown < 100, "one change appended {grown} bytes");
    // However many changes, the log stays within twice the live offsets (past the minimum
    // a log is compacted at): 6,000 changes of about 250 bytes pass it.
    let padded = |i: i64| {
        Some(map(&[
            ("o", Scalar::Int(i)),
            ("pad", Scalar::String("x".repeat(200))),
        ]))
    };
    for i in 0..6_000 {
        store
            .put("c", vec![(partition(i % 10), padded(i))], UNLIMITED)
            .await
            .unwrap();
    }
    let live = store.state.lock().unwrap().live_bytes;
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size <= (2 * live).max(MIN_COMPACTION_BYTES) + 200,
        "log of {size} bytes for {live} live bytes"
    );
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(reopened.connector_offsets("c").len(), 2_000);
    assert_eq!(reopened.get("c", &partition(9)), padded(5_999));
}

#[tokio::test]
async fn a_connector_cannot_pass_its_partition_limit_and_nothing_is_stored_then() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileOffsetStore::open(&dir.path().join("o")).unwrap());
    store
        .put(
            "c",
            vec![(partition(1), offset(1)), (partition(2), offset(1))],
            3,
        )
        .await
        .unwrap();
    let error = store
        .put(
            "c",
            vec![(partition(3), offset(1)), (partition(4), offset(1))],
            3,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "connector c would have offsets for 4 source partitions, more than the 3 it may have \
         (sandbox.source.partitions.max times tasks.max)"
    );
    assert_eq!(store.partition_count("c"), 2);
    assert_eq!(store.get("c", &partition(3)), None);
    // Updating known partitions, and another connector, are fine.
    store
        .put("c", vec![(partition(1), offset(2))], 3)
        .await
        .unwrap();
    store
        .put("d", vec![(partition(1), offset(2))], 3)
        .await
        .unwrap();
}
