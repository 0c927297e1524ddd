//! `custom-record-processor`: runs [`CustomRecordProcessor`] against a controller,
//! found as `aiperf-rs service` finds it. Start the run with
//! `aiperf-rs profile ... --external-service record_processor:1`.

use aiperf_protocol::{Endpoints, endpoints::DEFAULT_TCP_BASE_PORT};
use clap::Parser;
use custom_record_processor::{CustomRecordProcessor, run_service};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Where the controller is, and who this processor is.
#[derive(Parser)]
#[command(about = "A record processor with a metric of its own (prefill_share_pct)")]
struct Args {
    /// Control address of the controller (overrides --zmq-*).
    #[arg(long)]
    control: Option<String>,
    /// Controller host of a TCP run.
    #[arg(long)]
    zmq_host: Option<String>,
    /// TCP base port of the run.
    #[arg(long, default_value_t = DEFAULT_TCP_BASE_PORT)]
    zmq_base_port: u16,
    /// IPC directory of the run.
    #[arg(long)]
    zmq_ipc_path: Option<std::path::PathBuf>,
    /// Service id (default: `record_processor_<random>`).
    #[arg(long)]
    service_id: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let control = match (args.control, args.zmq_host, args.zmq_ipc_path) {
        (Some(addr), _, _) => addr,
        (None, Some(host), _) => Endpoints::tcp_control(&host, args.zmq_base_port),
        (None, None, Some(dir)) => Endpoints::ipc_control(&dir),
        (None, None, None) => {
            eprintln!(
                "error: say where the controller is: --zmq-host HOST, --zmq-ipc-path DIR or --control ADDR"
            );
            return ExitCode::FAILURE;
        }
    };
    let id = args
        .service_id
        .unwrap_or_else(|| aiperf_protocol::ServiceType::RecordProcessor.new_id());
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_ctrl_c.cancel();
    });
    match run_service(CustomRecordProcessor, &control, &id, cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: record processor {id} (controller {control}): {e}");
            ExitCode::FAILURE
        }
    }
}
