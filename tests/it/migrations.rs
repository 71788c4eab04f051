//! Migrations go up, down and up again cleanly on every backend.

use openconnector::db::{BackendKind, Db, migrations};

use crate::common::backends;

#[test]
fn migrations_round_trip_up_down_up() {
    for backend in backends() {
        let dir =
            std::env::temp_dir().join(format!("openconnector-migrate-{}", uuid::Uuid::new_v4()));
        let url = backend
            .url
            .clone()
            .unwrap_or_else(|| dir.join("m.sqlite").to_string_lossy().into_owned());
        let prefix = format!("m{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let db = Db::connect(&url, &prefix, 2).expect("reachable");
        let all: Vec<&str> = migrations(db.backend()).iter().map(|m| m.name).collect();
        let applied = db
            .run_blocking(|conn| conn.run_pending_migrations())
            .expect("up");
        assert_eq!(applied, all, "{}", backend.name);
        for name in all.iter().rev() {
            let reverted = db
                .run_blocking(|conn| conn.revert_last_migration())
                .expect("down");
            assert_eq!(reverted, Some(*name), "{}", backend.name);
        }
        assert_eq!(
            db.run_blocking(|conn| conn.applied_migrations())
                .expect("list"),
            Vec::<String>::new()
        );
        let again = db
            .run_blocking(|conn| conn.run_pending_migrations())
            .expect("up again");
        assert_eq!(again, all, "{}", backend.name);
        assert!(
            db.run_blocking(|conn| conn.run_pending_migrations())
                .expect("idempotent")
                .is_empty()
        );
        for _ in &all {
            db.run_blocking(|conn| conn.revert_last_migration())
                .expect("clean up");
        }
        db.run_blocking(|conn| conn.batch(&format!("DROP TABLE {prefix}migrations")))
            .expect("drop");
        if db.backend() == BackendKind::Sqlite {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
}
