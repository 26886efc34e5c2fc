//! Job-queue throughput on a real database: enqueue N no-op jobs, then
//! drain them with 1, 2 and 4 concurrent claimers (each claim + complete
//! is a real transaction on its own connection), and print jobs/s.
//!
//! ```sh
//! eval "$(scripts/services.sh)"
//! cargo run --release -p proofsheet-storage --example queue_throughput -- "$PROOFSHEET_TEST_POSTGRES_URL" 5000
//! cargo run --release -p proofsheet-storage --example queue_throughput -- sqlite 5000
//! ```

use std::{sync::Arc, time::Instant};

use chrono::Duration;
use proofsheet_core::{Clock, JobQueue, NewJob, PhotoId, SystemClock, Task};
use proofsheet_storage::{PgStore, SqliteStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "sqlite".into());
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5000);
    let dir = tempfile::tempdir()?;
    for claimers in [1usize, 2, 4] {
        let queue: Arc<dyn JobQueue> = if target.starts_with("postgres") {
            let url = proofsheet_storage::fresh_pg_database(&target).await?;
            Arc::new(PgStore::connect(&url, 8).await?)
        } else {
            let path = dir.path().join(format!("q{claimers}.db"));
            Arc::new(SqliteStore::connect(&format!("sqlite://{}", path.display())).await?)
        };
        for _ in 0..n {
            queue.enqueue(&NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, SystemClock.now())).await?;
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..claimers {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = 0usize;
                while let Some(job) = q.claim(SystemClock.now(), Duration::minutes(5)).await.unwrap() {
                    assert!(q.complete(&job, SystemClock.now()).await.unwrap());
                    done += 1;
                }
                done
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await?;
        }
        assert_eq!(total, n, "every job exactly once");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<10} {claimers} claimer(s): {n} jobs in {secs:.2} s = {:.0} jobs/s",
            if target.starts_with("postgres") { "postgres" } else { "sqlite" },
            n as f64 / secs
        );
    }
    Ok(())
}
