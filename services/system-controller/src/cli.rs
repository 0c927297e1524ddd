//! The `aiperf-rs` command line: `profile`, `mock-server`, `service`.

use crate::run::profile;
use aiperf_config::{Context, ProfileArgs, file, resolve, warnings};
use aiperf_protocol::{Endpoints, ServiceType};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// LLM inference benchmark (a Rust re-implementation of NVIDIA AIPerf).
#[derive(Parser, Debug)]
#[command(name = "aiperf-rs", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Benchmark an OpenAI-compatible server (accepts every AIPerf 0.13 `profile` option).
    Profile(Box<ProfileArgs>),
    /// Run the built-in OpenAI-compatible mock LLM server.
    MockServer(aiperf_mock_server::MockArgs),
    /// Run one service by hand, e.g. a record processor on another host.
    Service(ServiceArgs),
}

/// Options of `aiperf-rs service`.
#[derive(clap::Args, Debug)]
struct ServiceArgs {
    /// Service type: dataset-manager, timing-manager, worker-manager, worker, record-processor, records-manager.
    #[arg(long = "type", value_name = "TYPE")]
    service_type: String,
    /// Service id (default: `<type>_<random>`).
    #[arg(long)]
    service_id: Option<String>,
    /// Control address of the controller (overrides --zmq-*).
    #[arg(long, value_name = "ADDR")]
    control: Option<String>,
    /// TCP host of the controller's sockets.
    #[arg(long)]
    zmq_host: Option<String>,
    /// TCP base port of the controller's sockets (default 5557).
    #[arg(long)]
    zmq_base_port: Option<u16>,
    /// IPC socket directory of the controller.
    #[arg(long)]
    zmq_ipc_path: Option<std::path::PathBuf>,
    /// Log level.
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// Set by the controller when it starts this process: ignore terminal signals
    /// and exit when the controller (this pid) is gone.
    #[arg(long, hide = true, value_name = "PID")]
    parent_pid: Option<u32>,
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(argv()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Before any thread exists: the signal mask is inherited by every thread.
    if matches!(cli.command, Cmd::Profile(_))
        && let Err(e) = crate::signals::install()
    {
        eprintln!("error: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Cmd::Profile(args) => profile_command(*args, &runtime),
        Cmd::MockServer(args) => match runtime.block_on(aiperf_mock_server::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Service(args) => runtime.block_on(service(args)),
    };
    // A task still running (a dataset build abandoned at a signal) does not hold
    // the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

/// `aiperf-rs profile`: one run or a sweep.
fn profile_command(args: ProfileArgs, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let ctx = Context {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        stdout_is_tty: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        cli_command: command_line(),
    };
    let args = match file::apply(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // AIPerf options accepted without effect: one line each, once per invocation.
    for w in warnings(&args) {
        eprintln!("warning: {w}");
    }
    // A comma list (`--concurrency 10,50,100`) is a sweep: one profile per value.
    match crate::sweep::plan(&args, &ctx) {
        Ok(Some(plan)) => return runtime.block_on(crate::sweep::run(plan)),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let config = match resolve(&args, &ctx) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Metric settings (--goodput SLOs) are checked before any service starts.
    if let Err(e) = aiperf_metrics::metric_context(&config) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    runtime.block_on(profile(config))
}

/// The process arguments, with AIPerf spellings clap cannot parse rewritten in the
/// arguments of `profile` (`-vv`, see `aiperf_config::compat::expand_shorthands`).
fn argv() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() > 2 && args[1] == "profile" {
        let rest = aiperf_config::compat::expand_shorthands(args.split_off(2));
        args.extend(rest);
    }
    args
}

fn command_line() -> String {
    let mut parts = vec!["aiperf-rs".to_string()];
    for a in std::env::args().skip(1) {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
            parts.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            parts.push(a);
        }
    }
    parts.join(" ")
}

async fn service(args: ServiceArgs) -> ExitCode {
    crate::logging::init_stderr(&args.log_level);
    let Some(service_type) =
        ServiceType::parse(&args.service_type).filter(|t| *t != ServiceType::SystemController)
    else {
        eprintln!(
            "error: --type {}: unknown service type; use one of dataset-manager, timing-manager, worker-manager, worker, record-processor, records-manager",
            args.service_type
        );
        return ExitCode::from(2);
    };
    let control = match (&args.control, &args.zmq_host, &args.zmq_ipc_path) {
        (Some(c), _, _) => c.clone(),
        (None, Some(h), _) => Endpoints::tcp_control(
            h,
            args.zmq_base_port
                .unwrap_or(aiperf_protocol::endpoints::DEFAULT_TCP_BASE_PORT),
        ),
        (None, None, Some(dir)) => Endpoints::ipc_control(dir),
        (None, None, None) => {
            eprintln!(
                "error: say where the controller is: --zmq-host HOST (TCP), --zmq-ipc-path DIR (IPC) or --control ADDR"
            );
            return ExitCode::from(2);
        }
    };
    let id = args.service_id.unwrap_or_else(|| service_type.new_id());
    let cancel = tokio_util::sync::CancellationToken::new();
    match args.parent_pid {
        // Started by the controller: follow it, and only it.
        Some(parent) => {
            crate::child::ignore_terminal_signals();
            let ipc_dir = crate::ipc::socket_dir_of(&control);
            let sid = id.clone();
            tokio::spawn(async move {
                crate::child::wait_for_parent_death(parent, ipc_dir).await;
                // stderr is a pipe to the dead controller: never panic writing it.
                let _ = writeln!(
                    std::io::stderr(),
                    "error: service {sid}: the controller (pid {parent}) is gone: exiting"
                );
                std::process::exit(1);
            });
        }
        // Started by hand: Ctrl-C stops it.
        None => {
            let c = cancel.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                c.cancel();
            });
        }
    }
    match crate::services::run_service(service_type, control.clone(), id.clone(), cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: service {id} (controller {control}): {e:#}");
            ExitCode::FAILURE
        }
    }
}
