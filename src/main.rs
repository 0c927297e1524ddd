//! The `aiperf-rs` command: a thin shell over the system controller crate.

/// mimalloc: the tokenizers allocate per token and glibc malloc dominated their
/// profile (`docs/architecture.md`, threads and priorities).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same index in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    aiperf_system_controller::cli::main()
}

/// Tells mimalloc never to hand freed memory back to the OS. Its purge runs inside
/// an ordinary allocation: `madvise` over the freed ranges, TLB shootdowns on every
/// core, then page faults to take the memory back. Measured on a Mooncake replay,
/// a purge stalled the thread that was about to send a burst by up to 30 ms. A
/// benchmark client's heap returns to the same peak burst after burst, so keeping
/// it costs no more memory than the peak it already reached.
fn keep_freed_memory() {
    // SAFETY: sets one integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    debug_assert_eq!(
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
        -1
    );
}
