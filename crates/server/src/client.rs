//! `proofsheet login` and `proofsheet upload`: the command line against any
//! Proofsheet server, over its REST API.
//!
//! `login` keeps the server's URL and a session token in
//! `$XDG_CONFIG_HOME/proofsheet/credentials.json` (`~/.config/...`), readable
//! by the user alone (0600, in a 0700 folder). `upload` sends every JPEG
//! and PNG of a folder into an album over tus (resumable uploads), several
//! at once, skipping files whose SHA-256 the album already holds; an
//! interrupted upload resumes where it stopped, in this run (retries with
//! backoff) and in the next (the upload's URL is remembered per file in
//! `proofsheet/uploads/{album}.json` beside the credentials).

use std::{
    collections::{BTreeMap, HashSet},
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::{Client, Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

/// Where the server and token are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    /// The server's base URL (`https://photos.example.com`).
    pub server: String,
    /// A session token (`Authorization: Bearer`).
    pub token: String,
}

/// `$XDG_CONFIG_HOME/proofsheet`, else `$HOME/.config/proofsheet`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?).join(".config"),
    };
    Ok(base.join("proofsheet"))
}

/// Writes `data` to `path` readable by the user alone (0600), in a folder
/// only they can enter (0700).
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, data)?;
    Ok(())
}

fn client() -> anyhow::Result<Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(Client::builder()
        .user_agent(concat!("proofsheet-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .build()?)
}

fn api(server: &str, path: &str) -> String {
    format!("{}/api/v1{path}", server.trim_end_matches('/'))
}

/// The error a server answered, in its words.
async fn refused(what: &str, r: reqwest::Response) -> anyhow::Error {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    match body["message"].as_str() {
        Some(m) => anyhow!("{what}: {m} ({status})"),
        None => anyhow!("{what}: the server answered {status}"),
    }
}

/// Signs in (or checks `token`) and keeps the credentials. Without a
/// token, asks for the e-mail (unless given) and the password (not echoed).
pub async fn login(server: &str, email: Option<String>, token: Option<String>) -> anyhow::Result<PathBuf> {
    let server = server.trim_end_matches('/').to_owned();
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        bail!("--server takes a URL such as https://photos.example.com");
    }
    let http = client()?;
    let token = match token {
        Some(t) => t,
        None => {
            let email = match email {
                Some(e) => e,
                None => {
                    eprint!("E-mail: ");
                    std::io::stderr().flush()?;
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim().to_owned()
                }
            };
            let password = rpassword::prompt_password("Password: ").context("reading the password")?;
            let r = http
                .post(api(&server, "/sessions"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .with_context(|| format!("reaching {server}"))?;
            if !r.status().is_success() {
                return Err(refused("signing in", r).await);
            }
            r.json::<Value>().await?["token"].as_str().ok_or_else(|| anyhow!("no token in the answer"))?.to_owned()
        }
    };
    let r = http.get(api(&server, "/users/me")).bearer_auth(&token).send().await?;
    if !r.status().is_success() {
        return Err(refused("checking the token", r).await);
    }
    let me: Value = r.json().await?;
    let path = config_dir()?.join("credentials.json");
    write_private(&path, &serde_json::to_vec_pretty(&Credentials { server: server.clone(), token })?)?;
    println!(
        "signed in to {server} as {} ({}); credentials in {}",
        me["email"].as_str().unwrap_or("?"),
        me["role"].as_str().unwrap_or("?"),
        path.display()
    );
    Ok(path)
}

/// The kept credentials, with `server` / `token` (flags or
/// `PROOFSHEET_SERVER` / `PROOFSHEET_TOKEN`) taking precedence.
pub fn credentials(server: Option<String>, token: Option<String>) -> anyhow::Result<Credentials> {
    let kept: Option<Credentials> = match std::fs::read(config_dir()?.join("credentials.json")) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).context("reading the kept credentials")?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    match (server, token, kept) {
        (Some(server), Some(token), _) => Ok(Credentials { server, token }),
        (server, token, Some(kept)) => {
            Ok(Credentials { server: server.unwrap_or(kept.server), token: token.unwrap_or(kept.token) })
        }
        _ => bail!("not signed in: run `proofsheet login --server URL` first (or pass --server and --token)"),
    }
}

/// What `upload` does.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The folder.
    pub folder: PathBuf,
    /// The album's id.
    pub album: String,
    /// Descend into subfolders.
    pub recursive: bool,
    /// Files in flight at once.
    pub jobs: usize,
    /// Bytes per `PATCH`.
    pub chunk_bytes: u64,
    /// Tries per request before a file fails.
    pub tries: u32,
    /// List what would happen, send nothing.
    pub dry_run: bool,
}

/// What `upload` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Files sent and made into photos.
    pub uploaded: usize,
    /// Files the album already held.
    pub skipped: usize,
    /// Files that failed, with why.
    pub failed: Vec<(PathBuf, String)>,
    /// Bytes sent.
    pub bytes: u64,
}

fn images(folder: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() {
            if recursive {
                images(&path, true, out)?;
            }
        } else if kind.is_file()
            && path
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["jpg", "jpeg", "png"].contains(&x.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The SHA-256 of every photo the album holds.
async fn held(http: &Client, c: &Credentials, album: &str) -> anyhow::Result<HashSet<String>> {
    let mut out = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = api(&c.server, &format!("/albums/{album}/photos?limit=200"));
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let r = http.get(url).bearer_auth(&c.token).send().await.with_context(|| format!("reaching {}", c.server))?;
        if !r.status().is_success() {
            return Err(refused("reading the album", r).await);
        }
        let page: Value = r.json().await?;
        for p in page["items"].as_array().into_iter().flatten() {
            if let Some(d) = p["sha256"].as_str() {
                out.insert(d.to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Upload URLs of files begun in an earlier run, by SHA-256, per album.
struct Resume {
    path: PathBuf,
    urls: Mutex<BTreeMap<String, String>>,
}

impl Resume {
    fn open(album: &str) -> anyhow::Result<Self> {
        let path = config_dir()?.join("uploads").join(format!("{album}.json"));
        let urls = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        Ok(Resume { path, urls: Mutex::new(urls) })
    }

    fn get(&self, digest: &str) -> Option<String> {
        self.urls.lock().expect("resume file").get(digest).cloned()
    }

    fn set(&self, digest: &str, url: Option<String>) -> anyhow::Result<()> {
        let mut urls = self.urls.lock().expect("resume file");
        match url {
            Some(u) => urls.insert(digest.to_owned(), u),
            None => urls.remove(digest),
        };
        write_private(&self.path, &serde_json::to_vec_pretty(&*urls)?)
    }
}

/// One file over tus; answers the photo's id.
struct Sender<'a> {
    http: &'a Client,
    creds: &'a Credentials,
    opts: &'a UploadOptions,
    resume: &'a Resume,
}

/// A failure worth another try: the network, or the server's 5xx or 409.
fn transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
}

impl Sender<'_> {
    fn tus(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.creds.token).header("Tus-Resumable", "1.0.0")
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.creds.server.trim_end_matches('/'))
        }
    }

    async fn create(&self, path: &Path, len: u64) -> anyhow::Result<String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("photo.jpg");
        let metadata = format!("filename {}", base64::engine::general_purpose::STANDARD.encode(name));
        let r = self
            .tus(Method::POST, &api(&self.creds.server, &format!("/albums/{}/uploads", self.opts.album)))
            .header("Upload-Length", len.to_string())
            .header("Upload-Metadata", metadata)
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            let permanent = r.status().is_client_error() && r.status() != StatusCode::TOO_MANY_REQUESTS;
            let e = refused("starting the upload", r).await;
            return Err(if permanent { e.context(Permanent) } else { e });
        }
        let location =
            r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or_else(|| anyhow!("no Location"))?;
        Ok(self.absolute(location))
    }

    /// `(offset, photo)` of an upload, or `None` when it is gone.
    async fn head(&self, url: &str) -> anyhow::Result<Option<(u64, Option<String>)>> {
        let r = self.tus(Method::HEAD, url).send().await?;
        match r.status() {
            StatusCode::OK => {
                let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let offset =
                    header("upload-offset").and_then(|o| o.parse().ok()).ok_or_else(|| anyhow!("no offset"))?;
                Ok(Some((offset, header("proofsheet-photo-id"))))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s => Err(anyhow!("asking how far the upload got: the server answered {s}")),
        }
    }

    /// Sends one file; `bar` follows it and `overall` all of them.
    async fn send(
        &self,
        path: &Path,
        digest: &str,
        bar: &ProgressBar,
        overall: &ProgressBar,
    ) -> anyhow::Result<String> {
        let advance = |to: u64| {
            overall.inc(to.saturating_sub(bar.position()));
            bar.set_position(to);
        };
        let data = tokio::fs::read(path).await.with_context(|| format!("reading {}", path.display()))?;
        let len = data.len() as u64;
        let mut url = self.resume.get(digest);
        let mut offset = 0u64;
        let mut tries = 0u32;
        loop {
            // Where to go on from: an upload begun earlier, or a new one.
            let step: anyhow::Result<Option<String>> = async {
                match &url {
                    Some(u) => match self.head(u).await? {
                        Some((_, Some(photo))) => return Ok(Some(photo)),
                        Some((at, None)) => {
                            offset = at;
                            advance(at);
                        }
                        None => {
                            url = None;
                            self.resume.set(digest, None)?;
                            return Ok(None);
                        }
                    },
                    None => {
                        let u = self.create(path, len).await?;
                        self.resume.set(digest, Some(u.clone()))?;
                        url = Some(u);
                        offset = 0;
                    }
                }
                let u = url.clone().expect("set above");
                while offset < len {
                    let end = (offset + self.opts.chunk_bytes).min(len);
                    let r = self
                        .tus(Method::PATCH, &u)
                        .header("Upload-Offset", offset.to_string())
                        .header("content-type", "application/offset+octet-stream")
                        .body(data[offset as usize..end as usize].to_vec())
                        .send()
                        .await?;
                    if r.status() != StatusCode::NO_CONTENT {
                        let retry = r.status().is_server_error() || r.status() == StatusCode::CONFLICT;
                        let e = refused("sending", r).await;
                        return if retry { Err(e) } else { Err(e.context(Permanent)) };
                    }
                    let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    if let Some(photo) = header("proofsheet-photo-id") {
                        return Ok(Some(photo));
                    }
                    offset = header("upload-offset").and_then(|o| o.parse().ok()).unwrap_or(end);
                    advance(offset);
                    tries = 0;
                }
                // All bytes in, no photo named: ask again.
                Ok(None)
            }
            .await;
            match step {
                Ok(Some(photo)) => {
                    advance(len);
                    self.resume.set(digest, None)?;
                    return Ok(photo);
                }
                Ok(None) => {}
                Err(e) if e.downcast_ref::<Permanent>().is_some() => {
                    self.resume.set(digest, None)?;
                    return Err(e);
                }
                Err(e) => {
                    let network = e.downcast_ref::<reqwest::Error>().is_none_or(transient);
                    tries += 1;
                    if !network || tries >= self.opts.tries {
                        return Err(e);
                    }
                    // 0.5 s, 1 s, 2 s, ... with a little jitter.
                    let wait = 500u64 * (1 << tries.min(6)) + u64::from(rand::random::<u8>());
                    bar.set_message(format!("retrying in {:.1} s", wait as f64 / 1000.0));
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    bar.set_message("");
                }
            }
        }
    }
}

/// Marks a refusal no retry can change (not an image, too large, gone).
#[derive(Debug)]
struct Permanent;

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

/// Uploads a folder into an album; see the module docs. Progress bars on a
/// terminal, one plain line per file otherwise.
pub async fn upload(creds: &Credentials, opts: &UploadOptions) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let http = client()?;
    let mut files = Vec::new();
    images(&opts.folder, opts.recursive, &mut files)?;
    let held = held(&http, creds, &opts.album).await?;
    let resume = Resume::open(&opts.album)?;
    let mut summary = Summary::default();
    let mut todo = Vec::new();
    for path in files {
        let digest = sha256_of(&path)?;
        if held.contains(&digest) {
            println!("skipped {} (the album holds it)", path.display());
            summary.skipped += 1;
            // A run stopped between the last chunk and forgetting its URL
            // left it here; the photo is in, so the URL is done with.
            if !opts.dry_run && resume.get(&digest).is_some() {
                resume.set(&digest, None)?;
            }
        } else {
            let len = std::fs::metadata(&path)?.len();
            todo.push((path, digest, len));
        }
    }
    let total: u64 = todo.iter().map(|t| t.2).sum();
    if opts.dry_run {
        for (path, _, len) in &todo {
            println!("would upload {} ({len} bytes)", path.display());
        }
        println!("dry run: {} to upload ({total} bytes), {} already in the album", todo.len(), summary.skipped);
        return Ok(summary);
    }
    let tty = std::io::stdout().is_terminal();
    let bars =
        MultiProgress::with_draw_target(if tty { ProgressDrawTarget::stdout() } else { ProgressDrawTarget::hidden() });
    let overall = bars.add(ProgressBar::new(total));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    overall.set_prefix(format!("{} files", todo.len()));
    let file_style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    let sender = Sender { http: &http, creds, opts, resume: &resume };
    let done = Arc::new(Mutex::new(0usize));
    let count = todo.len();
    let results = futures::StreamExt::collect::<Vec<_>>(futures::StreamExt::buffer_unordered(
        futures::stream::iter(todo.into_iter().map(|(path, digest, len)| {
            let bars = &bars;
            let overall = &overall;
            let sender = &sender;
            let file_style = file_style.clone();
            let done = done.clone();
            async move {
                let bar = bars.insert_before(overall, ProgressBar::new(len));
                bar.set_style(file_style);
                bar.set_prefix(
                    path.file_name().and_then(|n| n.to_str()).unwrap_or("?").chars().take(12).collect::<String>(),
                );
                let result = sender.send(&path, &digest, &bar, overall).await;
                bar.finish_and_clear();
                let n = {
                    let mut d = done.lock().expect("counter");
                    *d += 1;
                    *d
                };
                let line = match &result {
                    Ok(photo) => format!("uploaded {} -> photo {photo} ({n}/{count})", path.display()),
                    Err(e) => format!("failed {}: {e:#} ({n}/{count})", path.display()),
                };
                if tty {
                    let _ = bars.println(line);
                } else {
                    println!("{line}");
                }
                (path, len, result)
            }
        })),
        opts.jobs.max(1),
    ))
    .await;
    overall.finish_and_clear();
    for (path, len, result) in results {
        match result {
            Ok(_) => {
                summary.uploaded += 1;
                summary.bytes += len;
            }
            Err(e) => summary.failed.push((path, format!("{e:#}"))),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "uploaded {}, skipped {}, failed {}: {:.1} MB in {secs:.1} s ({:.1} MB/s)",
        summary.uploaded,
        summary.skipped,
        summary.failed.len(),
        summary.bytes as f64 / 1e6,
        summary.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    for (path, why) in &summary.failed {
        println!("  failed: {}: {why}", path.display());
    }
    Ok(summary)
}
