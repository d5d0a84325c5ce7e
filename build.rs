//! The linker options of the static musl binaries (the engine's own
//! build.rs turns `VIGILD_*` variables into its capacities), and the
//! fingerprint of the types a re-exec's hand-off carries.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    types_fingerprint();
    // The static musl binaries are linked by rust-lld (.cargo/config.toml)
    // with: no unwind tables nothing reads (see the script, which also
    // drops `.comment`); identical functions folded into one (`--icf=all`:
    // generic code often compiles to the same bytes twice); code and
    // read-only data in one segment (`--no-rosegment`: separate segments
    // cost a page boundary each, for making constant data non-executable,
    // which a static binary that loads nothing else gains little from);
    // no RELRO, which would put the GOT and `.data` on pages of their own
    // so that the GOT can be made read-only after relocation, but a static
    // non-PIE binary has no relocations to protect; and tail-merged strings
    // (`-O2`).
    println!("cargo:rerun-if-changed=link/layout.ld");
    println!("cargo:rustc-check-cfg=cfg(cold_text)");
    let var = |name: &str| env::var(name).unwrap_or_default();
    // The two targets .cargo/config.toml links with rust-lld.
    let arch = var("CARGO_CFG_TARGET_ARCH");
    if var("CARGO_CFG_TARGET_ENV") == "musl" && (arch == "x86_64" || arch == "aarch64") {
        let script = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("link/layout.ld");
        println!("cargo:rustc-link-arg-bins=--no-eh-frame-hdr");
        println!("cargo:rustc-link-arg-bins=--icf=all");
        println!("cargo:rustc-link-arg-bins=--no-rosegment");
        println!("cargo:rustc-link-arg-bins=-O2");
        println!("cargo:rustc-link-arg-bins=-z");
        println!("cargo:rustc-link-arg-bins=norelro");
        println!("cargo:rustc-link-arg-bins=-T");
        println!("cargo:rustc-link-arg-bins={}", script.display());
        // The script gathers the cold code (sys/cold.rs gives it back).
        println!("cargo:rustc-cfg=cold_text");
    }
}

/// `HANDOFF_TYPES` for the compiler: a hash of every struct and enum
/// definition (with its `#[repr]`, without comments or blank space) of
/// the engine, the supervisor and `sys`. A re-exec's hand-off holds their
/// values byte for byte (src/supervise/reexec.rs), so a build whose
/// definitions differ in any way, even where the sizes agree (fields
/// swapped, a variant added), refuses another's hand-off at the check.
fn types_fingerprint() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).to_path_buf();
    let mut files = Vec::new();
    for dir in ["engine/src", "src/supervise", "src/sys"] {
        println!("cargo:rerun-if-changed={dir}");
        collect(&root.join(dir), &mut files);
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for byte in definitions(&text).bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=HANDOFF_TYPES={hash}");
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The struct and enum definitions of `text`, each line trimmed, comment
/// lines and the rest left out.
fn definitions(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    for line in text.lines().map(str::trim) {
        if line.starts_with("//") {
            continue;
        }
        let code = line.split(" //").next().unwrap_or(line);
        let starts = code.starts_with("#[repr")
            || ["struct ", "enum "].iter().any(|kind| {
                code.starts_with(kind)
                    || (code.starts_with("pub")
                        && code
                            .split_once(' ')
                            .is_some_and(|(_, r)| r.starts_with(kind)))
            });
        if depth == 0 && !starts {
            continue;
        }
        out.push_str(code);
        out.push('\n');
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        depth = depth.max(0);
    }
    out
}
