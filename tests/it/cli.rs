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

/// Reads one HTTP answer from a unix socket.
fn get_over_socket(path: &str, request_path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    write!(
        stream,
        "GET {request_path} HTTP/1.1\r\nHost: exapp\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn under_harp_the_app_listens_on_the_exapp_socket() {
    let dir = std::env::temp_dir().join(format!("openconnector-harp-{}", uuid::Uuid::new_v4()));
    let mut child = Command::new(BINARY)
        .env("APP_ID", "openconnector")
        .env("APP_VERSION", "0.1.0")
        .env("APP_SECRET", "harp-secret-0123456789")
        .env("APP_PORT", "23000")
        .env("NEXTCLOUD_URL", "http://127.0.0.1:1/index.php")
        .env("HP_SHARED_KEY", "shared")
        .env("APP_PERSISTENT_STORAGE", &dir)
        .env_remove("OPENCONNECTOR_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut answer = None;
    for _ in 0..100 {
        answer = get_over_socket("/tmp/exapp.sock", "/heartbeat");
        if answer.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = get_over_socket("/tmp/exapp.sock", "/api/dashboard");
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
    let answer = answer.expect("the socket answers");
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(r#"{"status":"ok"}"#),
        "{answer}"
    );
    assert!(
        refused.is_some_and(|a| a.starts_with("HTTP/1.1 401")),
        "AppAPI headers are required"
    );
}
