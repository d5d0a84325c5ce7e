//! The linker options of the static musl binaries (the engine's own
//! build.rs turns `VIGILD_*` variables into its capacities).

use std::{env, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
