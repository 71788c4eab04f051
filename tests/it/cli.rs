//! The command line: bad settings stop start-up with one line each; migrate works alone.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_openconnector");

#[test]
fn bad_settings_stop_start_up_naming_each_setting() {
    let output = Command::new(BINARY)
        .env("OPENCONNECTOR_BIND", "not-an-address")
        .env(
            "OPENCONNECTOR_DATABASE_URL",
            "redis://user:secret@127.0.0.1/0",
        )
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(12));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(
            "openconnector: bad setting OPENCONNECTOR_BIND: expected an address and port"
        ),
        "{stderr}"
    );
    assert!(
        lines[1].contains("OPENCONNECTOR_DATABASE_URL") && !stderr.contains("secret"),
        "{stderr}"
    );
}

#[test]
fn migrate_creates_the_sqlite_database_in_the_data_folder() {
    let dir = std::env::temp_dir().join(format!("openconnector-cli-{}", uuid::Uuid::new_v4()));
    let run = || {
        Command::new(BINARY)
            .arg("migrate")
            .env("OPENCONNECTOR_DATA_DIR", &dir)
            .env_remove("OPENCONNECTOR_DATABASE_URL")
            .output()
            .expect("the binary runs")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stdout)
            .contains("applied 2026-11-23-000001_create_entities")
    );
    assert!(dir.join("openconnector.sqlite").is_file());
    let second = run();
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "the database is up to date"
    );
    std::fs::remove_dir_all(&dir).ok();
}
