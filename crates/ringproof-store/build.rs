//! Sets the `ringproof_pg` cfg when `RINGPROOF_TEST_DATABASE_URL` is set, so the tests of
//! the PostgreSQL half run then and are reported as ignored (with the reason) otherwise:
//! see `tests/support/pg.rs`. The server and the binary crates use this same script
//! (`build = "../ringproof-store/build.rs"` in their Cargo.toml). Nothing outside tests
//! reads the cfg.

fn main() {
    println!("cargo::rerun-if-env-changed=RINGPROOF_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(ringproof_pg)");
    if std::env::var_os("RINGPROOF_TEST_DATABASE_URL").is_some() {
        println!("cargo::rustc-cfg=ringproof_pg");
    }
}
