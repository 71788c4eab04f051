#![allow(clippy::unwrap_used, clippy::expect_used)] // a build script may stop with a message
//! Embeds the SQL migrations of each backend (checking that the three folders name the same
//! migrations, so no backend drifts from the others) and the built web UI (`frontend/dist`).

use std::fmt::Write;
use std::path::Path;

const BACKENDS: [&str; 3] = ["sqlite", "postgres", "mysql"];

fn names(backend: &str) -> Vec<String> {
    let dir = Path::new("migrations").join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path, prefix: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            files_under(&entry.path(), &relative, found);
        } else {
            found.push(relative);
        }
    }
}

fn embed_ui(root: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed=frontend/dist");
    let dist = root.join("frontend").join("dist");
    let mut files = Vec::new();
    files_under(&dist, "", &mut files);
    files.sort();
    let mut out = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in files {
        writeln!(
            out,
            "    ({file:?}, include_bytes!({:?})),",
            dist.join(&file).display()
        )
        .unwrap();
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("ui_assets.rs"), out).expect("OUT_DIR is writable");
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = std::env::current_dir().expect("the build runs in the package folder");
    let reference = names(BACKENDS[0]);
    let mut out = String::new();
    for backend in BACKENDS {
        let found = names(backend);
        assert_eq!(
            found, reference,
            "migrations/{backend} must name the same migrations as migrations/sqlite"
        );
        writeln!(
            out,
            "pub static {}: &[Migration] = &[",
            backend.to_uppercase()
        )
        .unwrap();
        for name in &found {
            let dir = root.join("migrations").join(backend).join(name);
            for file in ["up.sql", "down.sql"] {
                assert!(dir.join(file).is_file(), "{} has no {file}", dir.display());
            }
            writeln!(
                out,
                "    Migration {{ name: {name:?}, up: include_str!({:?}), down: include_str!({:?}) }},",
                dir.join("up.sql").display(),
                dir.join("down.sql").display()
            )
            .unwrap();
        }
        out.push_str("];\n");
    }
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("migrations.rs"), out).expect("OUT_DIR is writable");
    embed_ui(&root, &out_dir);
}
