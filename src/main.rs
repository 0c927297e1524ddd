//! The `aiperf-rs` command: a thin shell over the system controller crate.

/// mimalloc: the tokenizers allocate per token and glibc malloc dominated their
/// profile (`docs/architecture.md`, threads and priorities).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    aiperf_system_controller::cli::main()
}
