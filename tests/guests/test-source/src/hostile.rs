//! The modes of `test-source` that attack the host while staying inside their own per-call
//! limits: each makes the host hold, store, log or echo something without bound unless the
//! host bounds it. Settings: `hostile.size` (bytes per unit: header value, pad, doc, message;
//! default 1000) and `batch.size`.

use std::sync::Arc;

use wasm_connect_sdk::{
    Data, Error, OffsetMap, Scalar, Schema, SchemaBuilder, SourceRecord, Struct, host,
};

/// Creates `wasi:http` header fields without end, each holding `size` bytes of headers,
/// and never drops them: host memory outside the guest's linear memory.
#[cfg(target_arch = "wasm32")]
pub fn hog_header_fields(size: usize) -> ! {
    use wasip2::http::types::Fields;
    let value = vec![b'v'; size.clamp(1, 60_000)];
    let mut held = Vec::new();
    loop {
        let fields = Fields::new();
        // Several headers per resource, up to `size` bytes in all.
        let mut filled = 0;
        let mut i = 0;
        while filled < size {
            let name = format!("x-hog-{i}");
            if fields.append(&name, &value).is_err() {
                break;
            }
            filled += value.len();
            i += 1;
        }
        held.push(fields);
    }
}

/// Creates empty `wasi:http` header fields without end: as many host resources as it can.
#[cfg(target_arch = "wasm32")]
pub fn hog_handles() -> ! {
    use wasip2::http::types::Fields;
    let mut held = Vec::new();
    loop {
        held.push(Fields::new());
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub fn hog_header_fields(_size: usize) -> ! {
    panic!("only in a component")
}

#[cfg(not(target_arch = "wasm32"))]
pub fn hog_handles() -> ! {
    panic!("only in a component")
}

/// A batch of records, each with a source partition never seen before (`{"p": n, "pad": ...}`)
/// and an offset of the same size: offsets the host would store for ever.
pub fn fresh_partitions(
    topic: &Arc<str>,
    next: &mut i64,
    count: usize,
    size: usize,
) -> Vec<SourceRecord> {
    let pad = "x".repeat(size);
    (0..count)
        .map(|_| {
            let n = *next;
            *next += 1;
            let partition: OffsetMap = vec![
                ("p".to_owned(), Scalar::Int(n)),
                ("pad".to_owned(), Scalar::String(pad.clone())),
            ];
            let offset: OffsetMap = vec![("o".to_owned(), Scalar::String(pad.clone()))];
            SourceRecord::new(
                partition,
                offset,
                topic.clone(),
                Data::string(format!("{n}")),
            )
        })
        .collect()
}

/// A struct schema of `fields` string fields, each documented with `doc` bytes.
pub fn bloated_schema(fields: usize, doc: usize) -> Arc<Schema> {
    let text = "d".repeat(doc);
    let mut builder = SchemaBuilder::struct_().name("bloated");
    for i in 0..fields {
        builder = builder.field(
            format!("f{i}"),
            SchemaBuilder::string()
                .optional()
                .doc(text.as_str())
                .build(),
        );
    }
    builder.build()
}

/// `count` records sharing `schema` (so the batch carries it once), each with an empty struct
/// value: small for the guest, a schema's worth each once converted with its schema.
pub fn bloated_records(
    topic: &Arc<str>,
    schema: &Arc<Schema>,
    next: &mut i64,
    count: usize,
) -> Result<Vec<SourceRecord>, Error> {
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let value = Struct::new(schema.clone()).map_err(|e| Error::fatal(e.to_string()))?;
        records.push(SourceRecord::new(
            vec![("task".to_owned(), Scalar::Int(0))],
            vec![("seq".to_owned(), Scalar::Int(*next))],
            topic.clone(),
            Data::from_struct(value),
        ));
        *next += 1;
    }
    Ok(records)
}

/// `count` records, each to a topic of its own: topics the host tracks and the log creates.
pub fn fresh_topics(next: &mut i64, count: usize) -> Vec<SourceRecord> {
    (0..count)
        .map(|_| {
            let n = *next;
            *next += 1;
            SourceRecord::new(
                OffsetMap::new(),
                OffsetMap::new(),
                format!("flood-{n}"),
                Data::string("x"),
            )
        })
        .collect()
}

/// Logs `count` lines of `size` bytes.
pub fn log_lines(count: usize, size: usize) {
    let line = "l".repeat(size);
    for _ in 0..count {
        host::info(&line);
    }
}

/// A fatal error whose message is `size` bytes.
pub fn huge_error(size: usize) -> Error {
    Error::fatal("e".repeat(size))
}
