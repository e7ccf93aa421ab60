//! Embeds Evict's hunt pack (`rules/hunts/**.yml`) and the shipped SigmaHQ rules
//! (`rules/sigmahq/**.yml`) in the binary, so a new hunt is a new file and no code.

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

fn embed(rules: &Path, folder: &str, target: &str) {
    let mut files = Vec::new();
    yaml_files(&rules.join(folder), &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let shown = file
            .strip_prefix(rules.parent().unwrap_or(rules))
            .unwrap_or(file)
            .display()
            .to_string();
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            shown,
            file.canonicalize()
                .unwrap_or_else(|_| file.clone())
                .display()
                .to_string()
        ));
    }
    out.push_str("]\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(target);
    std::fs::write(target, out).expect("OUT_DIR is writable");
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let rules = Path::new(&manifest).join("../../rules");
    let rules = rules.canonicalize().unwrap_or(rules);
    embed(&rules, "hunts", "builtin_hunts.rs");
    embed(&rules, "sigmahq", "builtin_sigmahq.rs");
}
