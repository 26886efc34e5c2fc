//! `proofsheet-example-axum-shop <data_dir> [addr]`: the shop of the
//! library's docs on `addr` (default 127.0.0.1:8090) until Ctrl-C.

use std::path::PathBuf;

use proofsheet_example_axum_shop::{Secrets, Shop};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else { anyhow::bail!("usage: proofsheet-example-axum-shop <data_dir> [addr]") };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    // Secrets from the environment, as a deployment would pass them.
    let secret = |name: &str| -> anyhow::Result<Vec<u8>> {
        let v = std::env::var(name).map_err(|_| anyhow::anyhow!("set {name} (a long random string)"))?;
        anyhow::ensure!(v.len() >= 32, "{name} must be at least 32 characters");
        Ok(v.into_bytes())
    };
    let secrets = Secrets { links: secret("SHOP_LINK_SECRET")?, gateway: secret("SHOP_GATEWAY_SECRET")? };
    let shop = Shop::start(&PathBuf::from(dir), secrets).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("shop on http://{addr}");
    axum::serve(listener, shop.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    shop.stop().await;
    Ok(())
}
