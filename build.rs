//! Compiles proto/mcsync/v1 into Rust, plus a descriptor set for server reflection.
//! protoc comes from protoc-bin-vendored unless PROTOC points elsewhere.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded at this point.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let protos: Vec<_> = std::fs::read_dir("proto/mcsync/v1")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    tonic_prost_build::configure()
        // Clients are built on a Channel: a generated `connect` constructor would clash with
        // SettingsService/Connect.
        .build_transport(false)
        // Maps encode in key order, so that equal records encode (and hash) alike.
        .btree_map(".")
        .file_descriptor_set_path(out.join("mcsync_descriptor.bin"))
        .compile_protos(&protos, &[std::path::PathBuf::from("proto")])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
