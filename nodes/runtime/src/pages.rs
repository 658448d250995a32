//! Memory pages of the process: small ones.
//!
//! mimalloc (the allocator of the `bazaar` binary) asks Linux for
//! transparent huge pages on its arenas. After it returns freed memory to
//! the system, the next touch of that range faults in a whole 2 MiB page,
//! which the kernel zeroes first: with searches allocating and freeing per
//! query, `clear_page_erms` was 12 % of a cold pass over a million
//! products, and the first pass after a start (the heap growing in 2 MiB
//! steps) had twice the p99 of the next. Databases that run on Linux
//! commonly ask for the same (Redis, MongoDB).

/// Stops transparent huge pages for this process from here on (faults
/// after the call take 4 KiB pages). A no-op, logged, where Linux refuses;
/// nothing elsewhere.
pub fn prefer_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
}
