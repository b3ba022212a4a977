//! Allocator tuning, applied once at start-up.

/// Gives every allocation of a MiB or more its own mapping, returned to the kernel on free.
///
/// glibc otherwise raises its mmap threshold to the size of each mapped block freed (up to
/// 32 MiB), so once the first big array of an analysis is gone, node-sized arrays of later
/// phases come from the heap, and freed ones stay in the process: the peak of a 300 MB heap
/// dump went from 280 to 303-309 MiB that way (bench/hprof.md), with no time saved.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    const THRESHOLD: libc::c_int = 1 << 20;
    // SAFETY: mallopt only sets a parameter of the allocator; it runs before any thread is
    // started, and a refused setting (return value 0) leaves glibc's default in place.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
