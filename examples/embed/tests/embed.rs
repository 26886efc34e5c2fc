//! The SDK stands alone: import, render, sell and zip with no server.

use proofsheet_core::{PageRequest, Photo, PhotoStatus};
use proofsheet_example_embed::Shop;

fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let px: Vec<u8> = (0..w as usize * h as usize).flat_map(|i| [(i % 251) as u8, (i / 7 % 253) as u8, 128]).collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85).encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_renders_and_sells_without_the_server() {
    let data = tempfile::tempdir().unwrap();
    let photos = tempfile::tempdir().unwrap();
    std::fs::write(photos.path().join("a.jpg"), jpeg(1200, 800)).unwrap();
    std::fs::write(photos.path().join("b.jpg"), jpeg(640, 960)).unwrap();
    std::fs::write(photos.path().join("notes.txt"), b"not a photo").unwrap();

    let shop = Shop::open(data.path()).await.unwrap();
    let imported = shop.import("Test", photos.path()).await.unwrap();
    let mut names: Vec<_> = imported.ready.iter().map(|p| p.filename.as_str()).collect();
    names.sort();
    assert_eq!(names, ["a.jpg", "b.jpg"]);
    assert_eq!(imported.rejected.len(), 1);
    assert_eq!(imported.rejected[0].0, "notes.txt");

    // The previews exist in the blob folder.
    let album = shop.engine.backends().metadata.album(imported.album).await.unwrap().unwrap();
    for p in &imported.ready {
        let key = Photo::preview_key(&album.storage_prefix, p.id);
        assert!(data.path().join("blobs").join(&key).is_file(), "{key}");
    }
    let (token, size) = shop.sell("buyer@example.test", &imported).await.unwrap();
    assert_eq!(token.len(), 43);
    assert!(size > 1000);

    // Reopening the same folder finds the same photographer and data.
    drop(shop);
    let again = Shop::open(data.path()).await.unwrap();
    assert!(again.engine.downloads().check(&token).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_workers_render_uploads_as_they_come() {
    let data = tempfile::tempdir().unwrap();
    let photos = tempfile::tempdir().unwrap();
    for n in 0..3 {
        std::fs::write(photos.path().join(format!("{n}.jpg")), jpeg(800, 600)).unwrap();
    }
    let shop = Shop::open(data.path()).await.unwrap();
    let jobs = shop.run_jobs(2).unwrap();
    let (album, rejected) = shop.upload_folder("Live", photos.path()).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let albums = shop.engine.albums();
    let mut ready = 0;
    for _ in 0..600 {
        let page = albums.photos(Some(&shop.photographer), album, PageRequest::first()).await.unwrap();
        ready = page.items.iter().filter(|p| p.status == PhotoStatus::Ready).count();
        if ready == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready, 3, "the background workers rendered every upload");
    jobs.stop().await;
}
