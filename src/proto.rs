//! Code generated from proto/mcsync/v1, and the descriptor set served by reflection.

#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("mcsync.v1");
    include!(concat!(env!("OUT_DIR"), "/mcsync.v1.serde.rs"));
}

/// The encoded `FileDescriptorSet` of the mcsync.v1 package, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("mcsync_descriptor");
