//! `proofsheet`: serve, migrate, administer.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};
use proofsheet_core::{Actor, Role, SystemClock};
use proofsheet_server::{Config, runtime, state};
use tracing_subscriber::EnvFilter;

/// Keeps glibc's malloc from handing a preview's buffers back to the
/// kernel between images. A render allocates a few buffers of 5 to 30 MB;
/// by default glibc maps the first ones fresh and trims the heap above
/// twice the largest it has seen, so every image faults its pages in (and
/// the kernel zeroes them) again. With buffers up to 64 MiB taken from the
/// heap and up to 256 MiB of free heap kept, the next image reuses them:
/// `proofsheet previews` on 12 photos of 24 MP took 5 to 10 % less CPU
/// time with these settings than without (runs alternated, timed by
/// hand: no script under `benches/` compares the two). `docs/performance.md` gives the cause and the memory cost. The heap stays
/// bounded by the largest batch in flight, and anything bigger still comes
/// and goes by mmap. (A glibc-only knob: elsewhere the system allocator's
/// defaults stand.)
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of malloc's parameters; it runs first
    // thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn main() -> anyhow::Result<()> {
    tune_allocator();
    run()
}

/// Proofsheet: sell photos from albums with watermarked previews.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML configuration file (then PROOFSHEET__SECTION__KEY variables override it).
    #[arg(long, global = true, env = "PROOFSHEET_CONFIG")]
    config: Option<PathBuf>,
    /// Where the embedded defaults keep their files (server.data_dir).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the workers and the scheduler (the default).
    Serve {
        /// Listen address (server.addr).
        #[arg(long)]
        addr: Option<String>,
        /// What this process does: api, worker, scheduler or all (default);
        /// comma-separated or repeated.
        #[arg(long = "role", value_delimiter = ',', default_value = "all")]
        roles: Vec<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Render previews and thumbnails of every JPEG/PNG in a folder with
    /// the configured pipeline and watermark, in parallel: the
    /// photographers' batch tool and the benchmark's driver.
    Previews {
        /// The folder of originals (not recursive).
        in_dir: PathBuf,
        /// Where `<name>.preview.jpg` and `<name>.thumb.jpg` go.
        #[arg(long)]
        out: PathBuf,
        /// Images in flight at once (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// WebAssembly watermark plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// The job queue and the periodic tasks.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Sign in to a Proofsheet server (any, over its API) and keep the
    /// token for `upload`, readable by you alone (0600).
    Login {
        /// The server's URL (`https://photos.example.com`).
        #[arg(long, env = "PROOFSHEET_SERVER")]
        server: String,
        /// Your e-mail (asked when missing).
        #[arg(long)]
        email: Option<String>,
        /// A session token to keep instead of signing in with a password
        /// (base64url: it may start with `-`).
        #[arg(long, env = "PROOFSHEET_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
        token: Option<String>,
    },
    /// Upload every JPEG and PNG of a folder into an album over resumable
    /// (tus) uploads, several at once, skipping files the album already
    /// holds; the exit code is 1 when any file failed.
    Upload {
        /// The folder.
        folder: PathBuf,
        /// The album's id.
        #[arg(long)]
        album: String,
        /// Also the folders inside it.
        #[arg(long, short = 'r')]
        recursive: bool,
        /// Files sent at once.
        #[arg(long, default_value_t = 3)]
        jobs: usize,
        /// Chunk size in MB (each a PATCH; a broken connection loses at
        /// most one).
        #[arg(long, default_value_t = 5.0)]
        chunk_mb: f64,
        /// Tries per request before a file fails (with backoff between).
        #[arg(long, default_value_t = 6)]
        tries: u32,
        /// List what would be uploaded and skipped; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// The server (default: the one `login` kept).
        #[arg(long, env = "PROOFSHEET_SERVER")]
        server: Option<String>,
        /// A token (default: the one `login` kept; it may start with `-`).
        #[arg(long, env = "PROOFSHEET_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs (newest last), optionally of one status.
    List {
        /// queued, running, succeeded or failed.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Queue a failed job again.
    Retry {
        /// The job id.
        id: String,
    },
    /// Run one periodic task now (expire_orders, purge_expired_albums,
    /// delete_expired_zips, prune_jobs, clean_orphans, monthly_reports).
    Run {
        /// The task name.
        task: String,
    },
    /// The newest runs of the periodic tasks.
    Runs {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load a plugin, check its interface, and render a sample image with
    /// it under the configured limits.
    Check {
        /// The plugin (`.wasm`).
        file: PathBuf,
        /// Its parameter string.
        #[arg(long, default_value = "")]
        params: String,
        /// Write the sample preview here (JPEG).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Mark an account's e-mail address verified (the operator vouches for
    /// it), as if its owner had used the mailed link.
    VerifyEmail {
        /// The account's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Create a user of any role (admins can only be made here).
    CreateUser {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Password (or PROOFSHEET_PASSWORD).
        #[arg(long, env = "PROOFSHEET_PASSWORD", hide_env_values = true)]
        password: String,
        /// Given name.
        #[arg(long, default_value = "Admin")]
        name: String,
        /// Family name.
        #[arg(long, default_value = "User")]
        surname: String,
        /// admin, photographer or client.
        #[arg(long, default_value = "admin")]
        role: String,
    },
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.json_logs);
    // The API's clients need no server configuration.
    match cli.command {
        Some(Command::Login { server, email, token }) => {
            proofsheet_server::client::login(&server, email, token).await?;
            return Ok(());
        }
        Some(Command::Upload { folder, album, recursive, jobs, chunk_mb, tries, dry_run, server, token }) => {
            let opts = proofsheet_server::client::UploadOptions {
                folder,
                album,
                recursive,
                jobs,
                chunk_bytes: chunk_bytes(chunk_mb)?,
                tries: tries.max(1),
                dry_run,
            };
            return upload(server, token, &opts).await;
        }
        _ => {}
    }
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.server.data_dir = dir;
    }
    match cli.command.unwrap_or(Command::Serve { addr: None, roles: vec!["all".into()] }) {
        Command::Serve { addr, roles } => serve(config, addr, &roles).await,
        Command::Previews { in_dir, out, jobs, quiet } => {
            let failed = previews(&config, &in_dir, &out, jobs, quiet)?;
            if failed > 0 {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Plugin { command: PluginCommand::Check { file, params, out } } => {
            plugin_check(&config, &file, params, out.as_deref())
        }
        Command::Migrate => {
            state::open_store(&config).await?;
            println!("migrations applied to {}", config.database_url());
            Ok(())
        }
        Command::Login { .. } | Command::Upload { .. } => unreachable!("handled before the configuration is read"),
        Command::Jobs { command } => jobs(config, command).await,
        Command::Admin { command } => admin(config, command).await,
    }
}

/// Logs go to stderr, so a command's output on stdout stays clean for
/// scripts; colours only on a terminal; JSON lines with `--json-logs`.
fn init_logs(json: bool) {
    let filter = EnvFilter::try_from_env("PROOFSHEET_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
}

/// `--chunk-mb` in bytes (0.01 to 1024 MB).
fn chunk_bytes(chunk_mb: f64) -> anyhow::Result<u64> {
    if !(0.01..=1024.0).contains(&chunk_mb) {
        anyhow::bail!("--chunk-mb takes 0.01 to 1024");
    }
    Ok((chunk_mb * 1024.0 * 1024.0) as u64)
}

/// `proofsheet upload`: exits 1 when any file failed.
async fn upload(
    server: Option<String>,
    token: Option<String>,
    opts: &proofsheet_server::client::UploadOptions,
) -> anyhow::Result<()> {
    let creds = proofsheet_server::client::credentials(server, token)?;
    let summary = proofsheet_server::client::upload(&creds, opts).await?;
    if !summary.failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// `proofsheet serve`: the roles asked for, until a signal.
async fn serve(mut config: Config, addr: Option<String>, roles: &[String]) -> anyhow::Result<()> {
    if let Some(addr) = addr {
        config.server.addr = addr;
    }
    config.validate()?;
    let roles = runtime::Roles::parse(roles)?;
    let running = runtime::start_roles(config, Arc::new(SystemClock), roles).await?;
    println!("Proofsheet is listening on {} (API docs at {}/docs)", running.url, running.url);
    running.wait_for_signal().await;
    Ok(())
}

/// `proofsheet plugin check`: loads a watermark plugin and renders a
/// sample with it.
fn plugin_check(
    config: &Config,
    file: &std::path::Path,
    params: String,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut imaging = config.imaging.clone();
    imaging.watermark.text = String::new();
    imaging.watermark.plugin = Some(file.to_path_buf());
    imaging.watermark.plugin_params = params;
    imaging.watermark.plugin_fallback = false;
    let pipeline = proofsheet_imaging::ImagePipeline::new(imaging).context("loading the plugin")?;
    let (w, h) = (3000u32, 2000u32);
    let sample = proofsheet_imaging::raster::encode_jpeg(&proofsheet_imaging::raster::Rgb::gradient(w, h), 90)?;
    let started = std::time::Instant::now();
    let out_img = pipeline.render_sync(&sample).context("rendering a sample with the plugin")?;
    println!(
        "ok: {} loads (ABI {}), imports nothing, and rendered a {w}x{h} sample in {:.1} ms",
        file.display(),
        proofsheet_imaging::plugin::ABI_VERSION,
        started.elapsed().as_secs_f64() * 1e3
    );
    if let Some(out) = out {
        std::fs::write(out, &out_img.preview).with_context(|| format!("writing {}", out.display()))?;
        println!("sample preview written to {}", out.display());
    }
    Ok(())
}

/// `proofsheet jobs ...`: the job queue and the periodic tasks, as the
/// operator.
async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    let state = state::build_state(config, String::new(), Arc::new(SystemClock)).await?;
    match command {
        JobsCommand::List { status, limit } => {
            let status = status.map(|s| proofsheet_core::JobStatus::parse(&s)).transpose().context("--status")?;
            let page = proofsheet_core::PageRequest::new(Some(limit.clamp(1, 200)), None)?;
            let jobs = state.engine.jobs().list(Actor::Operator, status, page).await?;
            println!("{:<36}  {:<14} {:<9} {:>8}  last error", "id", "kind", "status", "attempts");
            for j in jobs.items {
                println!(
                    "{:<36}  {:<14} {:<9} {:>4}/{:<3}  {}",
                    j.id,
                    j.kind,
                    j.status.as_str(),
                    j.attempts,
                    j.max_attempts,
                    j.last_error.unwrap_or_default()
                );
            }
        }
        JobsCommand::Retry { id } => match state.engine.jobs().retry(Actor::Operator, &id).await {
            Ok(_) => println!("job {id} queued again"),
            Err(e) if e.code() == "job_not_failed" => anyhow::bail!("job {id} is not a failed job"),
            Err(e) => return Err(e.into()),
        },
        JobsCommand::Run { task } => {
            let task: proofsheet_core::Periodic = task.parse()?;
            let scheduler = runtime::scheduler_for(state.engine.clone(), &state.config)?;
            let run = scheduler.run_now(task).await?;
            match run.outcome {
                Ok(detail) => println!("{}: {detail}", task.name()),
                Err(e) => anyhow::bail!("{} failed: {e}", task.name()),
            }
        }
        JobsCommand::Runs { limit } => {
            for r in state.engine.jobs().runs(Actor::Operator, limit).await? {
                println!(
                    "{:<22} {}  {:<6} {}",
                    r.task,
                    r.fire_at.to_rfc3339(),
                    r.outcome.as_deref().unwrap_or("running"),
                    r.detail.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// `proofsheet admin ...`: accounts the operator vouches for.
async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let state = state::build_state(config, String::new(), Arc::new(SystemClock)).await?;
    match command {
        AdminCommand::CreateUser { email, password, name, surname, role } => {
            let role: Role = role.parse().context("--role")?;
            // The operator vouches for the address: the account is verified.
            let new =
                proofsheet_core::NewUser { email: &email, password: &password, name: &name, surname: &surname, role };
            let user = state.engine.users().register(new, true).await?;
            println!("created {} {} ({})", role.as_str(), user.email, user.id);
        }
        AdminCommand::VerifyEmail { email } => {
            let email: proofsheet_core::Email = email.parse().context("--email")?;
            let user = match state.engine.users().vouch_for(&email).await {
                Ok(user) => user,
                Err(e) if e.code() == "not_found" => anyhow::bail!("no account has the address {email}"),
                Err(e) => return Err(e.into()),
            };
            println!("verified {} ({})", user.email, user.id);
        }
    }
    Ok(())
}

/// `proofsheet previews`: returns how many images failed.
fn previews(
    config: &Config,
    in_dir: &std::path::Path,
    out: &std::path::Path,
    jobs: Option<usize>,
    quiet: bool,
) -> anyhow::Result<usize> {
    use std::{
        io::Write,
        sync::{
            Mutex,
            atomic::{AtomicUsize, Ordering},
        },
        time::Instant,
    };
    let pipeline = proofsheet_imaging::ImagePipeline::new(config.imaging.clone()).context("configuring [imaging]")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(in_dir)
        .with_context(|| format!("reading {}", in_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            p.is_file() && matches!(ext.as_str(), "jpg" | "jpeg" | "png")
        })
        .collect();
    files.sort();
    let total = files.len();
    let threads = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    let progress = |done: usize| {
        if quiet {
            return;
        }
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprint!("\r[{}{}] {done}/{total}  {rate:.1} images/s ", "#".repeat(filled), ".".repeat(width - filled));
        let _ = std::io::stderr().flush();
    };
    std::thread::scope(|scope| {
        for _ in 0..threads.min(total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_owned();
                    let result = std::fs::read(path)
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| pipeline.render_sync(&bytes).map_err(|e| e.to_string()))
                        .and_then(|r| {
                            std::fs::write(out.join(format!("{stem}.preview.jpg")), &r.preview)
                                .and_then(|_| std::fs::write(out.join(format!("{stem}.thumb.jpg")), &r.thumbnail))
                                .map_err(|e| e.to_string())
                        });
                    if let Err(e) = result {
                        failures.lock().unwrap().push(format!("{}: {e}", path.display()));
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    if !quiet {
        eprintln!();
    }
    let failures = failures.into_inner().unwrap();
    for f in &failures {
        eprintln!("failed: {f}");
    }
    println!(
        "previews: {} of {total} images in {secs:.2} s ({:.2} images/s, {threads} threads, {} JPEG codec), {} failed",
        total - failures.len(),
        total as f64 / secs.max(1e-9),
        pipeline.jpeg_codec().label(),
        failures.len()
    );
    Ok(failures.len())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// Session tokens are base64url: one in 32 starts with `-`, which must
    /// not be read as a flag (CI once drew such a token).
    #[test]
    fn tokens_may_start_with_a_dash() {
        let cli = Cli::try_parse_from(["proofsheet", "login", "--server", "http://x", "--token", "-7abc"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Login { token: Some(t), .. }) if t == "-7abc"));
        let cli = Cli::try_parse_from(["proofsheet", "upload", ".", "--album", "a", "--token", "-x_y"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Upload { token: Some(t), .. }) if t == "-x_y"));
    }
}
