//! The `aiperf-rs` command: a thin shell over the system controller crate.
fn main() -> std::process::ExitCode {
    aiperf_system_controller::cli::main()
}
