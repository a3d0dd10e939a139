//! The connector conformance kit (`wasm_connect_tests::conformance`) run over the example
//! connectors of every language: the Rust file source and sink here; the Python and
//! JavaScript examples in their own modules.

use std::{ops::Range, path::Path};

use wasm_connect::runtime::PluginKind;
use wasm_connect_tests::{
    append_lines,
    conformance::{Role, Subject, run},
    lines,
};

fn value(i: usize) -> String {
    format!("record-{i:04}")
}

fn feed_file(dir: &Path, range: Range<usize>) {
    let lines: Vec<String> = range.map(value).collect();
    append_lines(&dir.join("source-input.txt"), &lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_file_source_conforms() {
    run(&Subject {
        class: "FileStreamSource",
        component: None,
        kind: PluginKind::Source,
        settings: |dir| {
            vec![
                (
                    "file".into(),
                    dir.join("source-input.txt").display().to_string(),
                ),
                ("topic".into(), "conformance-out".into()),
            ]
        },
        bad_setting: ("batch.size", "0"),
        value,
        role: Role::Source {
            feed: feed_file,
            topic: "conformance-out",
        },
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_file_sink_conforms() {
    run(&Subject {
        class: "FileStreamSink",
        component: None,
        kind: PluginKind::Sink,
        settings: |dir| {
            vec![
                (
                    "file".into(),
                    dir.join("sink-output.txt").display().to_string(),
                ),
                ("topics".into(), "conformance-in".into()),
            ]
        },
        bad_setting: ("file", ""),
        value,
        role: Role::Sink {
            topic: "conformance-in",
            read: |dir| {
                let path = dir.join("sink-output.txt");
                if path.exists() {
                    lines(&path)
                } else {
                    Vec::new()
                }
            },
        },
    })
    .await;
}
