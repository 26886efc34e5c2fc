//! Conformance suites: one per core trait (per role for the metadata
//! store), run against every backend this build has (metadata and job
//! queue: SQLite file and memory, PostgreSQL; BlobStore: fs, memory, S3;
//! Packager over each blob store). A new backend adds one line to
//! the `backends` functions and must pass the same suite.

use std::{io::Read, sync::Arc};

use bytes::Bytes;
use proofsheet_core::*;
use proofsheet_storage::{OpendalBlobStore, PgStore, S3Options, SqliteStore, ZipPackager};

/// A SQL backend under test, with what keeps it alive.
enum Sql {
    Sqlite(Arc<SqliteStore>, #[allow(dead_code)] Option<tempfile::TempDir>),
    Pg(Arc<PgStore>),
}

/// PostgreSQL is tested for real when `PROOFSHEET_TEST_POSTGRES_URL` names a
/// server (scripts/services.sh starts one); `PROOFSHEET_REQUIRE_SERVICES=1`
/// (set by scripts/test.sh) turns its absence into a failure.
async fn postgres() -> Option<PgStore> {
    match std::env::var("PROOFSHEET_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let url = proofsheet_storage::fresh_pg_database(&admin).await.unwrap();
            Some(PgStore::connect(&url, 10).await.unwrap())
        }
        Err(_) if std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_ok() => {
            panic!("PROOFSHEET_TEST_POSTGRES_URL is unset but PROOFSHEET_REQUIRE_SERVICES is: run scripts/services.sh")
        }
        Err(_) => {
            eprintln!("PROOFSHEET_TEST_POSTGRES_URL unset: PostgreSQL suites skipped");
            None
        }
    }
}

async fn metadata_backends() -> Vec<(&'static str, Sql)> {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let mut out = vec![
        ("sqlite-file", Sql::Sqlite(Arc::new(file), Some(dir))),
        ("sqlite-memory", Sql::Sqlite(Arc::new(memory), None)),
    ];
    if let Some(pg) = postgres().await {
        out.push(("postgres", Sql::Pg(Arc::new(pg))));
    }
    out
}

async fn blob_backends() -> Vec<(&'static str, Arc<dyn BlobStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let fs = OpendalBlobStore::fs(dir.path()).unwrap();
    let mut out: Vec<(&'static str, Arc<dyn BlobStore>, Option<tempfile::TempDir>)> =
        vec![("fs", Arc::new(fs), Some(dir)), ("memory", Arc::new(OpendalBlobStore::memory().unwrap()), None)];
    match std::env::var("PROOFSHEET_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let options = S3Options {
                endpoint: Some(endpoint.clone()),
                region: "us-east-1".into(),
                bucket: std::env::var("PROOFSHEET_TEST_S3_BUCKET").unwrap_or_else(|_| "proofsheet-test".into()),
                root: Some(format!("/conformance-{}", uuid::Uuid::new_v4().simple())),
                access_key_id: "test-key".into(),
                secret_access_key: "test-secret".into(),
                ..S3Options::default()
            };
            out.push(("s3", Arc::new(OpendalBlobStore::s3(&options).unwrap()), None));
        }
        Err(_) if std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_ok() => {
            panic!("PROOFSHEET_TEST_S3_ENDPOINT is unset but PROOFSHEET_REQUIRE_SERVICES is: run scripts/services.sh")
        }
        Err(_) => eprintln!("PROOFSHEET_TEST_S3_ENDPOINT unset: S3 suites skipped"),
    }
    out
}

/// One test per metadata role, each over every SQL backend (fresh
/// databases each), so a broken rule names its role and backend.
macro_rules! metadata_suites {
    ($($test:ident => $suite:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            for (name, backend) in metadata_backends().await {
                match &backend {
                    Sql::Sqlite(s, _) => testkit::$suite(name, &**s).await,
                    Sql::Pg(s) => testkit::$suite(name, &**s).await,
                }
            }
        }
    )*};
}

metadata_suites! {
    metadata_deployment => deployment,
    metadata_accounts => accounts,
    metadata_albums => albums,
    metadata_photos => photos,
    metadata_orders => orders,
    metadata_downloads => downloads,
    metadata_reports => reports,
    metadata_schedules => schedules,
    metadata_idempotency => idempotency,
    metadata_sign_in_links => sign_in_links,
    metadata_favourites => favourites,
    metadata_logos => logos,
    metadata_webhooks => webhooks,
    metadata_events => events,
    metadata_faces => faces,
    metadata_quotas => quotas,
    metadata_photo_order => photo_order,
    metadata_drafts => drafts,
    metadata_selling => selling,
}

#[tokio::test]
async fn job_queue_conformance() {
    for (name, backend) in metadata_backends().await {
        let q: &dyn JobQueue = match &backend {
            Sql::Sqlite(s, _) => &**s,
            Sql::Pg(s) => &**s,
        };
        testkit::job_queue(name, q).await;
        testkit::job_queue_contention(name, q).await;
        testkit::job_lanes(name, q).await;
    }
}

#[tokio::test]
async fn blob_store_conformance() {
    for (name, blobs, _dir) in blob_backends().await {
        testkit::blob_store(name, &*blobs).await;
    }
}

#[tokio::test]
async fn packager_streams_a_valid_stored_zip() {
    for (name, blobs, _dir) in blob_backends().await {
        let mut entries = Vec::new();
        let mut expected = Vec::new();
        for i in 0..5u32 {
            let data: Vec<u8> = (0..(100_000 + i * 7919)).map(|n| (n.wrapping_mul(31) ^ i) as u8).collect();
            let key = format!("src/{i}");
            blobs.put(&key, Bytes::from(data.clone())).await.unwrap();
            entries.push((format!("photo ü {i}.jpg"), key));
            expected.push(data);
        }
        let size = ZipPackager.package(&*blobs, "out/order.zip", &entries).await.unwrap();
        let zip_bytes = blobs.get("out/order.zip").await.unwrap();
        assert_eq!(zip_bytes.len() as u64, size, "{name}");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
        assert_eq!(zip.len(), 5);
        for (i, data) in expected.iter().enumerate() {
            let mut f = zip.by_index(i).unwrap();
            assert_eq!(f.name(), format!("photo ü {i}.jpg"));
            assert_eq!(f.compression(), zip::CompressionMethod::Stored, "{name}: no recompression");
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap(); // checks the CRC too
            assert_eq!(&out, data, "{name}: entry {i}");
        }
        // A missing source fails the package and leaves no zip.
        let broken = vec![("x.jpg".to_owned(), "src/none".to_owned())];
        assert!(ZipPackager.package(&*blobs, "out/broken.zip", &broken).await.is_err());
        assert!(blobs.get("out/broken.zip").await.unwrap_err().is_not_found(), "{name}");
    }
}
