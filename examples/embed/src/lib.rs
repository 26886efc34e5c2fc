//! Embedding the Proofsheet SDK in a backend of your own, without the
//! reference server: core + storage + imaging (+ a payment gateway), wired
//! by hand.
//!
//! [`Shop::open`] builds an engine over a SQLite file and a folder of
//! blobs; [`Shop::import`] uploads a folder of photos into a new album and
//! runs the preview jobs in-process; [`Shop::sell`] takes an order through
//! payment to a finished zip. [`Shop::run_jobs`] runs the job workers and
//! the scheduler in the background instead, as a long-running backend
//! would (the same loops the reference server runs).

use std::{path::Path, sync::Arc};

use anyhow::Context;
use proofsheet_core::{
    AlbumId, Backends, Money, NewAlbum, NewUser, OrderStatus, PageRequest, PaymentEvent, PaymentOutcome, Photo,
    PhotoStatus, Policy, Proofsheet, Role, Scheduler, Settings, SystemClock, User, Visibility, Worker,
};
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_payments::TestGateway;
use proofsheet_storage::{OpendalBlobStore, SqliteStore, ZipPackager};

/// A tiny photo shop over the SDK.
pub struct Shop {
    /// The engine.
    pub engine: Proofsheet,
    /// The photographer who owns everything here.
    pub photographer: User,
}

/// Job workers and the scheduler running in the background; stopped (jobs
/// in flight handed back to the queue) by [`Background::stop`].
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stops the loops and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// The album made.
    pub album: AlbumId,
    /// Photos with previews.
    pub ready: Vec<Photo>,
    /// Files that were refused or failed, with the reason.
    pub rejected: Vec<(String, String)>,
}

impl Shop {
    /// Opens (or creates) a shop under `dir`.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = Arc::new(SqliteStore::connect(&format!("sqlite://{}", dir.join("shop.db").display())).await?);
        let blobs = Arc::new(OpendalBlobStore::fs(&dir.join("blobs"))?);
        let backends = Backends {
            metadata: store.clone(),
            queue: store,
            blobs,
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default())?),
            packager: Arc::new(ZipPackager),
            gateways: vec![Arc::new(TestGateway::new(b"embedded example secret".to_vec(), "http://localhost"))],
            clock: Arc::new(SystemClock),
            notifier: Arc::new(proofsheet_core::LogNotifier),
            webhooks: Arc::new(proofsheet_core::NoWebhooks),
            faces: None,
        };
        let engine = Proofsheet::new(backends, Settings::default(), b"embedded example link secret".to_vec())?;
        let photographer = account(&engine, "studio@example.test", Role::Photographer, "Studio").await?;
        Ok(Shop { engine, photographer })
    }

    /// Starts `workers` job workers and the periodic tasks (expiry, clean-up,
    /// reports on their default schedules) on this Tokio runtime.
    pub fn run_jobs(&self, workers: usize) -> anyhow::Result<Background> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let poll = std::time::Duration::from_millis(100);
        let mut tasks = Worker::spawn(&self.engine, workers, poll, &stopped);
        let scheduler = Scheduler::with_defaults(self.engine.clone(), Policy::default())?;
        tasks.push(tokio::spawn(scheduler.run_loop(std::time::Duration::from_secs(10), stopped)));
        Ok(Background { stop, tasks })
    }

    /// Uploads every file of `photos` into a new public album; the previews
    /// are rendered by [`Shop::run_jobs`]'s workers, or here when none run.
    pub async fn upload_folder(&self, name: &str, photos: &Path) -> anyhow::Result<(AlbumId, Vec<(String, String)>)> {
        let album = self
            .engine
            .albums()
            .create(
                &self.photographer,
                NewAlbum {
                    name: name.into(),
                    visibility: Visibility::Public,
                    client_email: None,
                    price_per_photo: Money::new(900, "EUR".parse()?)?,
                    expires_at: None,
                    watermark: None,
                    find_me: false,
                    draft: false,
                    client_name: None,
                },
            )
            .await?;
        let mut rejected = Vec::new();
        let mut files: Vec<_> =
            std::fs::read_dir(photos)?.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let bytes =
                bytes::Bytes::from(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
            let body = Box::pin(futures::stream::once(async move { Ok(bytes) }));
            if let Err(e) = self.engine.albums().upload(&self.photographer, album.id, Some(&name), body).await {
                rejected.push((name, e.to_string()));
            }
        }
        Ok((album.id, rejected))
    }

    /// Uploads every file of `photos` into a new public album and renders
    /// the previews in-process.
    pub async fn import(&self, name: &str, photos: &Path) -> anyhow::Result<Imported> {
        let (album, mut rejected) = self.upload_folder(name, photos).await?;
        Worker::new(self.engine.clone()).drain().await?;
        let photos = self.engine.albums().photos(Some(&self.photographer), album, PageRequest::first()).await?;
        let mut ready = Vec::new();
        for p in photos.items {
            match p.status {
                PhotoStatus::Ready => ready.push(p),
                _ => rejected.push((p.filename.clone(), p.failure_reason.clone().unwrap_or_default())),
            }
        }
        Ok(Imported { album, ready, rejected })
    }

    /// Sells `photos` to a client (registered here if new), marks the order
    /// paid as a gateway would, builds the zip, and returns the download
    /// token and the zip's size.
    pub async fn sell(&self, client_email: &str, imported: &Imported) -> anyhow::Result<(String, u64)> {
        let client = account(&self.engine, client_email, Role::Client, "A").await?;
        let ids: Vec<_> = imported.ready.iter().map(|p| p.id).collect();
        let order = self.engine.checkout().create_order(&client, imported.album, &ids).await?;
        let event = PaymentEvent {
            id: format!("embedded-{}", order.id),
            order_id: order.id,
            outcome: PaymentOutcome::Paid,
            reference: None,
            checkout: None,
        };
        self.engine.checkout().apply("test", event).await?;
        Worker::new(self.engine.clone()).drain().await?;
        let order = self.engine.checkout().order(&client, order.id).await?;
        anyhow::ensure!(order.status == OrderStatus::Fulfilled, "order is {:?}", order.status);
        let link = self.engine.downloads().link(&order).await?.context("a fulfilled order has a link")?;
        let size = self.engine.downloads().check(&link.token).await?.zip_size;
        Ok((link.token, size))
    }
}

/// The account of `email`, made on first use (this backend vouches for the
/// address), then signed in through the users service as a login form
/// would: the session's token is what a web front end would keep.
async fn account(engine: &Proofsheet, email: &str, role: Role, name: &str) -> anyhow::Result<User> {
    const PASSWORD: &str = "embedded example password";
    let users = engine.users();
    let new = NewUser { email, password: PASSWORD, name, surname: "Example", role };
    match users.register(new, true).await {
        Err(e) if e.code() != "email_taken" => return Err(e.into()),
        _ => {}
    }
    let session = users.sign_in(email, PASSWORD, chrono::Duration::hours(1)).await?.context("the account signs in")?;
    anyhow::ensure!(users.authenticate(&session.token).await?.is_some(), "the session works");
    Ok(session.user)
}
