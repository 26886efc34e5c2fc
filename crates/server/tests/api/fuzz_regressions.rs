//! Every input the fuzzers (`fuzz/`) ever found, plus their seed corpora,
//! run through the same checks as the fuzz targets, in CI.

#[path = "../../../../fuzz/src/checks.rs"]
mod checks;

/// Runs `check` on every file of `regressions/<target>/` and
/// `seeds/<target>/`; both folders must exist and hold at least one input
/// (a missing folder would otherwise skip its inputs silently).
fn each(target: &str, check: fn(&[u8])) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["regressions", "seeds"] {
        let folder = root.join(dir).join(target);
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        let before = n;
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            eprintln!("{target}: {}", entry.path().display());
            check(&data);
            n += 1;
        }
        assert!(n > before, "{}: no inputs", folder.display());
    }
    assert!(n > 0, "{target}: no seeds or regressions found");
}

#[test]
fn image_pipeline() {
    each("image_pipeline", checks::image_pipeline);
}

#[test]
fn upload_probe() {
    each("upload_probe", checks::upload_probe);
}

#[test]
fn webhook() {
    each("webhook", checks::webhook);
}

#[test]
fn download_token() {
    each("download_token", checks::download_token);
}

#[test]
fn multipart() {
    each("multipart", checks::multipart);
}

#[test]
fn tus_checksum() {
    each("tus_checksum", checks::tus_checksum);
}

#[test]
fn logo() {
    each("logo", checks::logo);
}

#[test]
fn selfie() {
    each("selfie", checks::selfie);
}
