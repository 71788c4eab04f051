#![allow(clippy::unwrap_used, clippy::expect_used)] // a build script may stop with a message
//! Embeds the SQL migrations of each backend and checks that the three folders name the same
//! migrations, so no backend drifts from the others.

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
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
