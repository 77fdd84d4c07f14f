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
    // serde for the records only: the JSON feed (`server::json_feed`) reads and writes them in
    // the proto3 JSON mapping, with the proto's own field names on output.
    let descriptors = std::fs::read(out.join("mcsync_descriptor.bin"))?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .btree_map(["."])
        .preserve_proto_field_names()
        .build(&[
            ".mcsync.v1.Record",
            ".mcsync.v1.RecordKey",
            ".mcsync.v1.RecordKind",
            ".mcsync.v1.Product",
            ".mcsync.v1.ProductImage",
            ".mcsync.v1.ProductVariant",
            ".mcsync.v1.Customer",
            ".mcsync.v1.Order",
            ".mcsync.v1.OrderCustomer",
            ".mcsync.v1.LineItem",
            ".mcsync.v1.CampaignTracking",
            ".mcsync.v1.Shipment",
            ".mcsync.v1.PaymentStatus",
            ".mcsync.v1.ShippingStatus",
            ".mcsync.v1.PromoUse",
            ".mcsync.v1.Cart",
            ".mcsync.v1.Coupon",
            ".mcsync.v1.CouponType",
            ".mcsync.v1.Address",
        ])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
