//! The OpenAPI 3 document of the whole API (`host/openapi.json`, checked in and embedded),
//! served at `GET /openapi.json`. A test keeps it in sync with the router's [`ROUTES`]: a
//! route served but not documented, or documented but not served, fails it.
//!
//! [`ROUTES`]: super::ROUTES

use axum::{http::header, response::IntoResponse};

/// The document, as checked in.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::rest::ROUTES;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("host/openapi.json is JSON")
    }

    /// Every `(method, path)` the document describes.
    fn documented(document: &Value) -> BTreeSet<(String, String)> {
        let paths = document["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("path item");
                item.keys()
                    .filter(|key| METHODS.contains(&key.as_str()))
                    .map(|method| (method.clone(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_document_lists_exactly_the_routes_served() {
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .flat_map(|(path, methods)| {
                methods
                    .iter()
                    .map(|method| ((*method).to_owned(), (*path).to_owned()))
            })
            .collect();
        let documented = documented(&document());
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unserved.is_empty(),
            "host/openapi.json is out of sync with rest::ROUTES: served but not documented \
             {undocumented:?}; documented but not served {unserved:?}"
        );
    }

    #[test]
    fn every_operation_is_complete_and_every_reference_resolves() {
        let document = document();
        assert_eq!(document["openapi"], "3.0.3");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        let mut operation_ids = BTreeSet::new();
        for (method, path) in documented(&document) {
            let operation = &document["paths"][&path][&method];
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(operation_ids.insert(id.to_owned()), "duplicate id {id}");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success"
            );
            // Every `{parameter}` of the path is declared, and only those.
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter(|parameter| parameter["in"] == "path")
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            assert_eq!(in_path, declared, "{method} {path} path parameters");
        }
        // Every link points at an operation that exists.
        for (method, path) in documented(&document) {
            let responses = document["paths"][&path][&method]["responses"]
                .as_object()
                .expect("responses");
            for response in responses.values() {
                for link in response["links"].as_object().into_iter().flatten() {
                    let target = link.1["operationId"].as_str().unwrap_or_default();
                    assert!(
                        operation_ids.contains(target),
                        "{method} {path}: link {} to unknown operation {target}",
                        link.0
                    );
                }
            }
        }
        // Every `$ref` points at a schema that exists.
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        found.push(target);
                    }
                    map.values().for_each(|value| refs(value, found));
                }
                Value::Array(items) => items.iter().for_each(|value| refs(value, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(&document, &mut found);
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} does not exist"
            );
        }
    }
}
