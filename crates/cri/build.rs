//! Compiles the CRI v1 protocol (proto/api.proto, runtime.v1 of k8s.io/cri-api) into the gRPC client.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptors = protox::compile(["api.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=proto/api.proto");
    Ok(())
}
