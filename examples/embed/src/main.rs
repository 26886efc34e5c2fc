//! `proofsheet-example-embed <data_dir> <photos_dir>`: imports a folder of
//! photos with the SDK alone, sells them, and prints what happened.

use std::path::PathBuf;

use proofsheet_example_embed::Shop;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(data), Some(photos)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: proofsheet-example-embed <data_dir> <photos_dir>");
    };
    let shop = Shop::open(&data).await?;
    let imported = shop.import("Imported", &photos).await?;
    for p in &imported.ready {
        println!("ready    {} ({}x{})", p.filename, p.width.unwrap_or(0), p.height.unwrap_or(0));
    }
    for (name, why) in &imported.rejected {
        println!("rejected {name}: {why}");
    }
    if !imported.ready.is_empty() {
        let (token, size) = shop.sell("buyer@example.test", &imported).await?;
        println!("sold {} photos: zip of {size} bytes, token {}…", imported.ready.len(), &token[..8]);
    }
    Ok(())
}
