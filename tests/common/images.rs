//! Images the end-to-end tests run, built offline from the host's files.

use std::path::Path;

/// The reference of the busybox test image.
pub const BUSYBOX_IMAGE: &str = k3rs_cri::image::BUSYBOX_TEST_IMAGE;

/// Writes the busybox test image (`k3rs.local/busybox:test`, from Debian's busybox-static, with a
/// link per applet: sh, httpd, wget, nc, sleep, …) as an OCI archive at `path`.
pub fn busybox_image_tar(path: &Path) {
    k3rs_cri::image::write_busybox_test_image(path).unwrap_or_else(|e| {
        panic!(
            "cannot build the busybox test image at {}: {e}",
            path.display()
        )
    });
}
