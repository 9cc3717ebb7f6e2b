//! Sets the `ringproof_seeds` cfg when the vendor documents the project was specified from
//! are beside the repository (`../shared/seeds`, which CI always has), or when `CI` is set:
//! `countries::tests::countries_tsv_matches_seed` then runs (and fails if the document is
//! missing), and is reported as ignored, with the reason, otherwise. Nothing outside tests
//! reads the cfg.

const SEED: &str = "../../../shared/seeds/003_dbd770b56cd4412b.txt";

fn main() {
    // Not `rerun-if-changed` on the document: a path that does not exist would rerun this
    // script, and rebuild the crate, on every build of a clone without it.
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(ringproof_seeds)");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if ci || std::path::Path::new(SEED).exists() {
        println!("cargo::rustc-cfg=ringproof_seeds");
    }
}
