//! Conformance suites: one per core trait, run against every backend this
//! build has (MetadataStore and JobQueue: SQLite; BlobStore: fs and
//! memory; Packager over each blob store). A new backend adds one line to
//! the `backends` functions and must pass the same suite.

use std::{io::Read, sync::Arc};

use bytes::Bytes;
use proofsheet_core::*;
use proofsheet_storage::{OpendalBlobStore, SqliteStore, ZipPackager};

async fn metadata_backends() -> Vec<(&'static str, Arc<SqliteStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
    vec![
        ("sqlite-file", Arc::new(file), Some(dir)),
        ("sqlite-memory", Arc::new(memory), None),
    ]
}

fn blob_backends() -> Vec<(&'static str, Arc<dyn BlobStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let fs = OpendalBlobStore::fs(dir.path()).unwrap();
    vec![
        ("fs", Arc::new(fs), Some(dir)),
        (
            "memory",
            Arc::new(OpendalBlobStore::memory().unwrap()),
            None,
        ),
    ]
}

#[tokio::test]
async fn metadata_store_conformance() {
    for (name, store, _dir) in metadata_backends().await {
        testkit::metadata_store(name, &*store).await;
    }
}

#[tokio::test]
async fn job_queue_conformance() {
    for (name, store, _dir) in metadata_backends().await {
        testkit::job_queue(name, &*store).await;
        testkit::job_queue_contention(name, &*store).await;
    }
}

#[tokio::test]
async fn blob_store_conformance() {
    for (name, blobs, _dir) in blob_backends() {
        testkit::blob_store(name, &*blobs).await;
    }
}

#[tokio::test]
async fn packager_streams_a_valid_stored_zip() {
    for (name, blobs, _dir) in blob_backends() {
        let mut entries = Vec::new();
        let mut expected = Vec::new();
        for i in 0..5u32 {
            let data: Vec<u8> = (0..(100_000 + i * 7919))
                .map(|n| (n.wrapping_mul(31) ^ i) as u8)
                .collect();
            let key = format!("src/{i}");
            blobs.put(&key, Bytes::from(data.clone())).await.unwrap();
            entries.push((format!("photo ü {i}.jpg"), key));
            expected.push(data);
        }
        let size = ZipPackager
            .package(&*blobs, "out/order.zip", &entries)
            .await
            .unwrap();
        let zip_bytes = blobs.get("out/order.zip").await.unwrap();
        assert_eq!(zip_bytes.len() as u64, size, "{name}");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
        assert_eq!(zip.len(), 5);
        for (i, data) in expected.iter().enumerate() {
            let mut f = zip.by_index(i).unwrap();
            assert_eq!(f.name(), format!("photo ü {i}.jpg"));
            assert_eq!(
                f.compression(),
                zip::CompressionMethod::Stored,
                "{name}: no recompression"
            );
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap(); // checks the CRC too
            assert_eq!(&out, data, "{name}: entry {i}");
        }
        // A missing source fails the package and leaves no zip.
        let broken = vec![("x.jpg".to_owned(), "src/none".to_owned())];
        assert!(
            ZipPackager
                .package(&*blobs, "out/broken.zip", &broken)
                .await
                .is_err()
        );
        assert!(
            blobs
                .get("out/broken.zip")
                .await
                .unwrap_err()
                .is_not_found(),
            "{name}"
        );
    }
}
