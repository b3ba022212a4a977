//! A software prefetch: the one `unsafe` in plateau.
//!
//! The graph passes read node arrays at indices taken from edge lists, a pattern the hardware
//! prefetcher cannot predict, so on big heaps they wait on memory at nearly every step. Asking
//! for an element some steps ahead overlaps those waits (the semidominator loop ran twice as
//! fast on a 2 GB dump). Stable Rust offers the hint only as an `unsafe` intrinsic.

/// Asks the CPU to bring `slice[index]` into cache, for a read that comes soon. A hint only:
/// nothing is read, and an index out of range costs nothing but the hint.
#[inline(always)]
pub fn prefetch<T>(slice: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let address = slice.as_ptr().wrapping_add(index) as *const i8;
        // SAFETY: `prefetcht0` only loads a cache line; it never faults, even on an invalid
        // address, and changes no state a program can observe other than timing.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, index);
}
