//! A database of the test's own, created fresh and migrated, dropped when the
//! test ends.

use sqlx::{Connection, Executor, PgConnection, PgPool};

/// A freshly created and migrated database.
pub struct TestDb {
    /// URL of the new database, for `chime --database-url`.
    pub url: String,
    /// A pool on it, for assertions.
    pub pool: PgPool,
    name: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("CHIME_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://chime:chime@127.0.0.1:5432/chime".to_owned())
}

fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

impl TestDb {
    /// Creates `chime_test_<random>` and applies the migrations.
    pub async fn create() -> TestDb {
        let db = TestDb::create_empty().await;
        chime_store::migrate(&db.pool)
            .await
            .expect("migrating the test database");
        db
    }

    /// Creates `chime_test_<random>` with no tables.
    pub async fn create_empty() -> TestDb {
        let admin_url = admin_url();
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(err) => panic!(
                "cannot reach Postgres at {admin_url}: {err}\nstart the services with \
                 `scripts/services` (or set CHIME_TEST_DATABASE_URL)"
            ),
        };
        let name = format!("chime_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("creating the test database (does the role have CREATEDB?)");
        let url = with_database(&admin_url, &name);
        let pool = PgPool::connect(&url)
            .await
            .expect("connecting to the test database");
        chime_store::migrate(&pool)
            .await
            .expect("migrating the test database");
        TestDb {
            url,
            pool,
            name,
            admin_url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async code; a short-lived thread with its own
        // runtime removes the database so test runs do not pile them up.
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}
