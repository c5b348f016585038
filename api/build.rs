//! Embeds the console's build (`console/dist`, made by `scripts/setup`: `npm ci`
//! and `npm run build` in `console/`) into the binary: a table of
//! `(path, include_bytes!(…))` in `$OUT_DIR/console_assets.rs`. Without a build
//! the table is empty and `/console` answers a page saying how to make one.

use std::{
    fs,
    path::{Path, PathBuf},
};

fn files(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, base, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../console/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut found = Vec::new();
    files(&dist, &dist, &mut found);
    found.sort();
    if !found.iter().any(|(n, _)| n == "index.html") {
        println!(
            "cargo:warning=console/dist/index.html is missing: /console will say the console is not built. \
             Run scripts/setup (npm ci && npm run build in console/), then build again."
        );
        found.clear();
    }
    let mut code = String::from("/// The console's files: (path under /console/, bytes).\npub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &found {
        let abs = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    fs::write(out, code).expect("writing console_assets.rs");
}
