//! The "Find me" search benchmark (`benches/find_me.sh`): an album of
//! `photos` indexed photos (5,000 by default), one to three faces each,
//! forty of them showing the guest who searches; then `searches` searches
//! through `Faces::find_by_embedding`, the service's own path without the
//! selfie's detection (reading the album's faces, comparing, ranking,
//! reading the matched photos). Prints the latency percentiles, on SQLite
//! (a file, the embedded default) and, when `PROOFSHEET_TEST_POSTGRES_URL`
//! is set, on PostgreSQL in the same run.
//!
//! `cargo run --release --example find_me_search -- [photos] [searches]`
//!
//! The embeddings are random unit vectors of dlib's length (128): the
//! search's cost depends on how many there are, not on what they show; the
//! guest's are the guest's vector plus noise (about 0.35 away), the others
//! about 1.4 away, as dlib places different people.

use std::{sync::Arc, time::Instant};

use proofsheet_core::{
    Album, AlbumId, Backends, Face, FaceBox, FaceIndex, JobQueue, LogNotifier, MetadataStore, NoWebhooks, Photo,
    PhotoId, PhotoStatus, Proofsheet, RgbImage, Role, Settings, SystemClock, User, UserId, Visibility,
};
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_payments::TestGateway;
use proofsheet_storage::{OpendalBlobStore, PgStore, SqliteStore, ZipPackager};

/// The engine's measure without its detector: the search never detects.
struct Embeddings;

impl FaceIndex for Embeddings {
    fn model(&self) -> &str {
        "dlib-resnet-v1"
    }
    fn dimensions(&self) -> usize {
        128
    }
    fn faces(&self, _: RgbImage<'_>) -> proofsheet_core::Result<Vec<Face>> {
        Ok(Vec::new())
    }
    fn threshold(&self) -> f32 {
        0.6
    }
}

/// xorshift, seeded: the same album every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    /// Roughly normal (a sum of uniforms).
    fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.next()).sum::<f32>()
    }
    fn unit(&mut self) -> Vec<f32> {
        normalise((0..128).map(|_| self.normal()).collect())
    }
}

fn normalise(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn near(rng: &mut Rng, of: &[f32], spread: f32) -> Vec<f32> {
    normalise(of.iter().map(|x| x + spread * rng.normal() / 11.3).collect())
}

async fn run(name: &str, store: Arc<dyn Store>, photos: usize, searches: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let engine = Proofsheet::new(
        Backends {
            metadata: store.clone().meta(),
            queue: store.clone().queue(),
            blobs: Arc::new(OpendalBlobStore::fs(dir.path())?),
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default())?),
            packager: Arc::new(ZipPackager),
            gateways: vec![Arc::new(TestGateway::new(b"a bench secret, 32 bytes long...".to_vec(), "http://x"))],
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
            webhooks: Arc::new(NoWebhooks),
            faces: Some(Arc::new(Embeddings)),
        },
        Settings::default(),
        b"a bench link secret of 32 bytes.".to_vec(),
    )?;
    let meta = engine.backends().metadata.clone();
    let owner = User {
        id: UserId::new(),
        email: format!("ph-{name}@bench.test").parse()?,
        name: "Bench".into(),
        surname: "Mark".into(),
        role: Role::Photographer,
        email_verified: true,
        created_at: chrono::Utc::now(),
    };
    meta.insert_user(&owner, "h").await?;
    let id = AlbumId::new();
    let now = chrono::Utc::now();
    let album = Album {
        id,
        owner_id: owner.id,
        name: "Marathon".into(),
        visibility: Visibility::Public,
        client_email: None,
        price_per_photo: proofsheet_core::Money::new(500, "EUR".parse()?)?,
        expires_at: None,
        watermark: None,
        storage_prefix: Album::prefix_for(owner.id, id),
        created_at: now,
        updated_at: now,
        purged_at: None,
        revision: 0,
        find_me: true,
        draft: false,
        client_name: None,
        cover_photo_id: None,
    };
    meta.insert_album(&album).await?;
    let mut rng = Rng(0x5eed_f00d_u64);
    let guest = rng.unit();
    let seeded = Instant::now();
    let mut faces_stored = 0;
    for n in 0..photos {
        let photo = Photo {
            id: PhotoId::new(),
            album_id: id,
            filename: format!("IMG_{n:05}.jpg"),
            content_type: "image/jpeg".into(),
            size_bytes: 1,
            status: PhotoStatus::Ready,
            failure_reason: None,
            width: Some(2048),
            height: Some(1365),
            created_at: now,
            renders: 1,
            sha256: None,
            taken_at: None,
            position: None,
        };
        meta.insert_photo(&photo, &[]).await?;
        let count = 1 + n % 3;
        let faces: Vec<Face> = (0..count)
            .map(|k| Face {
                bounds: FaceBox { left: 100 * k as u32, top: 100, width: 90, height: 110 },
                embedding: if k == 0 && n % (photos / 40).max(1) == 0 {
                    near(&mut rng, &guest, 0.35)
                } else {
                    rng.unit()
                },
            })
            .collect();
        faces_stored += faces.len();
        meta.put_photo_faces(photo.id, "dlib-resnet-v1", &faces, now).await?;
    }
    let seed_s = seeded.elapsed().as_secs_f64();
    let selfie = near(&mut rng, &guest, 0.2);
    let faces = engine.faces();
    let mut times = Vec::with_capacity(searches);
    let mut found = 0;
    for _ in 0..searches {
        let t = Instant::now();
        found = faces.find_by_embedding(None, id, &selfie).await?.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:10} {photos} photos, {faces_stored} faces (seeded in {seed_s:.1} s): search p50 {:.1} ms, p95 {:.1} ms, \
         max {:.1} ms, first {first:.1} ms; {found} photos found (40 planted)",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
    Ok(())
}

/// A store that is both roles, as the engine needs.
trait Store: MetadataStore + JobQueue {
    fn meta(self: Arc<Self>) -> Arc<dyn MetadataStore>;
    fn queue(self: Arc<Self>) -> Arc<dyn JobQueue>;
}

impl<T: MetadataStore + JobQueue> Store for T {
    fn meta(self: Arc<Self>) -> Arc<dyn MetadataStore> {
        self
    }
    fn queue(self: Arc<Self>) -> Arc<dyn JobQueue> {
        self
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let photos: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let searches: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50).max(1);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("sqlite", Arc::new(SqliteStore::connect(&url).await?), photos, searches).await?;
    if let Ok(admin) = std::env::var("PROOFSHEET_TEST_POSTGRES_URL") {
        let url = proofsheet_storage::fresh_pg_database(&admin).await?;
        run("postgres", Arc::new(PgStore::connect(&url, 8).await?), photos, searches).await?;
    }
    Ok(())
}
