//! Embeds the built-in connectors (`file-source`, `file-sink`, `datagen-source`, `http-source`,
//! `http-sink`, `postgres-source`, `postgres-sink`) into the host binary when `cargo build-connectors` has built them, so they work
//! without any upload.
//!
//! Nested cargo stays out of this script: it only looks for the artifacts. When one is
//! missing the host still builds, and naming that connector at run time gives an error that
//! says which command to run.

use std::{env, fmt::Write, fs, path::PathBuf};

const BUILTINS: &[&str] = &[
    "file_source",
    "file_sink",
    "datagen_source",
    "http_source",
    "http_sink",
    "postgres_source",
    "postgres_sink",
];

fn main() {
    let dir = match env::var_os("WASM_CONNECT_BUILTIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("wasm32-wasip2/wasm"),
    };
    println!("cargo:rerun-if-env-changed=WASM_CONNECT_BUILTIN_DIR");
    let mut code = String::from(
        "/// Built-in connector components: (crate name, bytes if built).\npub const BUILTIN_COMPONENTS: &[(&str, Option<&[u8]>)] = &[\n",
    );
    for name in BUILTINS {
        let path = dir.join(format!("{name}.wasm"));
        println!("cargo:rerun-if-changed={}", path.display());
        if path.exists() {
            writeln!(
                code,
                "    ({name:?}, Some(include_bytes!({:?}))),",
                path.display().to_string()
            )
            .unwrap();
        } else {
            println!(
                "cargo:warning=built-in connector {} not found; run `cargo build-connectors` and rebuild",
                path.display()
            );
            writeln!(code, "    ({name:?}, None),").unwrap();
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}

/// `target/` of this build: OUT_DIR is `<target>/<profile>/build/<pkg>-<hash>/out`.
fn target_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    out.ancestors()
        .nth(4)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../target"))
}
