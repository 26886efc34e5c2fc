//! The repository's documents stand on their own and stay true to the
//! code where that is cheap to check: no link leaves the repository, every
//! relative link resolves, the README stays short, every configuration key
//! is documented, and the crate guide names every role trait and service
//! of the core.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The repository's tracked text files and their text (by `git ls-files`,
/// so build output and tool caches are not read), each read once.
fn tracked() -> Vec<(PathBuf, String)> {
    let out = std::process::Command::new("git").arg("ls-files").current_dir(root()).output().expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| root().join(l))
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|text| (p, text)))
        .collect()
}

#[test]
fn nothing_points_outside_the_repository() {
    // Spelled in two parts so this file does not find itself.
    let outside = format!("{}/shared", "..");
    let offenders: Vec<String> = tracked()
        .into_iter()
        .filter(|(_, text)| text.contains(&outside))
        .map(|(p, _)| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(offenders.is_empty(), "files pointing outside the repository: {offenders:?}");
}

#[test]
fn every_relative_link_in_the_markdown_resolves() {
    let mut broken = Vec::new();
    for (file, text) in tracked().into_iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "md")) {
        let mut rest = text.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split('#').next().unwrap_or("");
            rest = &rest[end..];
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            let resolved = file.parent().unwrap().join(target);
            if !resolved.exists() {
                broken.push(format!("{} -> {target}", file.strip_prefix(root()).unwrap().display()));
            } else if !resolved.canonicalize().unwrap().starts_with(root()) {
                broken.push(format!("{} -> {target} (outside the repository)", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn the_readme_starts_in_a_minute() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 150, "README.md has {lines} lines; the reference belongs in docs/");
    assert!(readme.contains("cargo run --release -- serve --addr 127.0.0.1:8080 --data-dir ./data"));
    assert!(readme.contains("\nscripts/test.sh\n"), "the test command");
}

/// Every leaf of the configuration, as `section.key` (maps show as their
/// documented placeholder, e.g. `imaging.plugins.<name>`).
fn leaves(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

#[test]
fn every_configuration_key_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let config = serde_json::to_value(proofsheet_server::config::Config::default()).unwrap();
    let mut keys = BTreeSet::new();
    leaves("", &config, &mut keys);
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| {
            // A key is documented as itself, or inside a "`a.b` / `a.c`"
            // pair, or as a map's entry `a.b.<name>`.
            !doc.contains(&format!("`{k}`")) && !doc.contains(&format!("`{k}.<"))
        })
        .collect();
    assert!(missing.is_empty(), "configuration keys docs/configuration.md does not document: {missing:#?}");
}

#[test]
fn the_crate_guide_names_every_role_and_service_of_the_core() {
    let guide = std::fs::read_to_string(root().join("docs/crates.md")).unwrap();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("crates/core/src")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let line = line.trim_start();
            // Role traits, and services: `pub struct Albums<'a>(&'a Proofsheet);`.
            if let Some(rest) = line.strip_prefix("pub trait ") {
                names.insert(rest.split(|c: char| !c.is_alphanumeric()).next().unwrap().to_owned());
            } else if let Some(rest) = line.strip_prefix("pub struct ")
                && line.contains("(&'a Proofsheet)")
            {
                names.insert(rest.split(|c: char| !c.is_alphanumeric()).next().unwrap().to_owned());
            }
        }
    }
    // Helper traits that are not backends a reader picks.
    for helper in ["BlobWriter", "Staging"] {
        names.remove(helper);
    }
    let missing: Vec<&String> = names.iter().filter(|n| !guide.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/crates.md does not name: {missing:?}");
}

/// The server reaches the stores only through the core's services, which
/// hold the rules (`Proofsheet::backends` is public only to tests, under
/// core's `testkit` feature, so a plain `cargo build` refuses it too).
#[test]
fn the_server_reaches_the_stores_through_services() {
    let server = root().join("crates/server/src");
    let offenders: Vec<String> = tracked()
        .into_iter()
        .filter(|(p, text)| p.starts_with(&server) && text.contains(".backends()"))
        .map(|(p, _)| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(offenders.is_empty(), "server files reading a backend directly: {offenders:?}");
}
