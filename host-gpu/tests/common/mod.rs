//! Shared by the GPU test files: open the adapter or skip.

use shoal_host_gpu::gpu::{Gpu, GpuError};

/// The GPU, or `None` (test skipped with a message) when no adapter exists
/// and `SHOAL_REQUIRE_GPU` is not `1`.
pub fn gpu() -> Option<Gpu> {
    match Gpu::new() {
        Ok(g) => {
            println!("adapter: {}", g.adapter_name());
            Some(g)
        }
        Err(e @ GpuError::NoAdapter(_))
            if std::env::var("SHOAL_REQUIRE_GPU").as_deref() != Ok("1") =>
        {
            println!("SKIPPED: {e} (set SHOAL_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("GPU required but unavailable: {e}"),
    }
}
