#!/usr/bin/env python3
"""An aiperf-rs record processor in Python (pyzmq + msgpack).

Replaces the built-in one: `aiperf-rs profile ... --use-server-token-count
--external-service record_processor:1`, then `python3 record_processor.py
--zmq-ipc-path DIR` (or `--zmq-host HOST [--zmq-base-port P]`, or `--control ADDR`).
Written from docs/protocol.md: every message is a MessagePack map with named
fields, one ZeroMQ frame. It has no tokenizer, so it needs server token counts;
it leaves out `first_chunk_tokens` (a tokenizer count) and refuses --goodput
and --export-level raw.
"""
import argparse, json, os, struct, sys, time
import msgpack, zmq

PROTOCOL_VERSION = 2
HEARTBEAT_S = 0.5
NS_PER_S = 1e9


def pack(msg):
    return msgpack.packb(msg, use_bin_type=True)


def unpack(frame):
    return msgpack.unpackb(frame, raw=False)


def parse_response(data):
    """Text, reasoning, usage and error of one SSE `data:` payload or JSON body."""
    out = {"text": "", "reasoning": "", "usage": None, "error": None}
    data = data.strip()
    if data == "[DONE]":
        return out
    try:
        v = json.loads(data)
    except ValueError as e:
        out["error"] = {"code": None, "type": "InvalidResponse",
                        "message": f"response is not valid JSON ({e}): {data[:200]}"}
        return out
    if not isinstance(v, dict):
        return out
    if v.get("error") is not None:
        e = v["error"]
        code = e.get("code") if isinstance(e, dict) else None
        code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
        kind = e.get("type") if isinstance(e, dict) and isinstance(e.get("type"), str) else "ServerError"
        msg = e if isinstance(e, str) else e.get("message") if isinstance(e.get("message"), str) else json.dumps(e)
        out["error"] = {"code": code, "type": kind, "message": msg}
        return out
    choices = v.get("choices") or []
    if choices:
        c = choices[0]
        body = c.get("delta") or c.get("message") or {}
        for key, field in (("content", "text"), ("reasoning_content", "reasoning"), ("reasoning", "reasoning")):
            if isinstance(body.get(key), str):
                out[field] += body[key]
        for call in body.get("tool_calls") or []:
            fn = call.get("function") or {}
            out["text"] += (fn.get("name") or "") + (fn.get("arguments") or "")
        if isinstance(c.get("text"), str):
            out["text"] += c["text"]
    if isinstance(v.get("usage"), dict) and v["usage"]:
        out["usage"] = v["usage"]
    return out


def http_trace_metrics(t):
    """The `http_req_*` values (ns, bytes, counts, 0/1) of a RawRecord's `http_trace`,
    in the built-in's order (docs/metrics.md §13). A missing time is an absent key."""
    def span(a, b):  # t[b] - t[a]; None when either is missing or it would be negative
        a, b = t.get(a), t.get(b)
        return float(b - a) if a is not None and b is not None and b >= a else None

    def stage(a, b):  # a stage that may not have happened: 0 without a start
        return 0.0 if t.get(a) is None else span(a, b)

    reused = t.get("connection_reused", False)  # a reused connection has no DNS or connect
    parts = [stage("pool_wait_start_perf_ns", "pool_wait_end_perf_ns"),
             0.0 if reused else stage("dns_start_perf_ns", "dns_end_perf_ns"),
             0.0 if reused else span("connect_start_perf_ns", "connect_end_perf_ns"),
             span("send_start_perf_ns", "send_end_perf_ns"), span("send_end_perf_ns", "first_byte_perf_ns"),
             span("first_byte_perf_ns", "last_byte_perf_ns")]
    z = [p or 0.0 for p in parts]  # a missing part counts 0 in the sums, added left to right
    overhead = z[0] + z[1] + z[2]
    names = ("blocked", "dns_lookup", "connecting", "sending", "waiting", "receiving")
    return [*zip(("http_req_" + n for n in names), parts),
            ("http_req_connection_reused", 1.0 if reused else 0.0),
            ("http_req_data_sent", t.get("bytes_sent", 0)), ("http_req_chunks_sent", t.get("chunks_sent", 0)),
            ("http_req_data_received", t.get("bytes_received", 0)),
            ("http_req_chunks_received", t.get("chunks_received", 0)),
            ("http_req_connection_overhead", overhead),
            ("http_req_duration", span("send_start_perf_ns", "receive_end_perf_ns")),
            ("http_req_total", overhead + (z[3] + z[4] + z[5]))]


def interpret(raw, cfg, processor_id):
    """RawRecord -> MetricRecord, as the built-in record processor computes it."""
    parsed = [parse_response(r["data"]) for r in raw["responses"]]
    error = raw.get("error") or next((p["error"] for p in parsed if p["error"]), None)
    start, credit = raw["start_perf_ns"], raw["credit"]
    content = [(r["perf_ns"], p["text"] != "") for r, p in zip(raw["responses"], parsed)
               if p["text"] or p["reasoning"]]
    if error is None:
        reason = ("Request end time is not after its start time." if raw["end_perf_ns"] <= start
                  else "No responses with actual content were received." if not content
                  else "A response timestamp precedes the request start." if any(t < start for t, _ in content)
                  else None)
        if reason:
            error = {"code": None, "type": "InvalidInferenceResultError",
                     "message": f"Invalid inference result: {reason}"}
    usage = next((p["usage"] for p in reversed(parsed) if p["usage"]), None) or {}
    m = {}  # insertion-ordered: the built-in's computation order

    def put(tag, value):
        if value is not None and value == value and abs(value) != float("inf"):
            m[tag] = float(value)

    if error is not None:
        put("error_isl", usage.get("prompt_tokens"))
    else:
        stream = raw["streaming"] and cfg.get("streaming", False)
        first, last = content[0][0], content[-1][0]
        put("request_latency", last - start)
        if stream:
            put("time_to_first_token", first - start)
            if len(content) >= 2:
                put("time_to_second_token", content[1][0] - first)
            put("time_to_first_output_token", next((t - start for t, out in content if out), None))
            put("decode_duration", m["request_latency"] - m["time_to_first_token"])
            if len(content) >= 2:
                m["inter_chunk_latency"] = [float(b[0] - a[0]) for a, b in zip(content, content[1:])]
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        completion = usage.get("completion_tokens")
        output = None if completion is None else max(completion - (reasoning or 0), 0)
        put("input_sequence_length", usage.get("prompt_tokens"))
        put("output_token_count", output if output else None)
        put("reasoning_token_count", reasoning if reasoning else None)
        osl = None if output is None and reasoning is None else float((output or 0) + (reasoning or 0))
        put("output_sequence_length", osl)
        lat, ttft = m.get("request_latency"), m.get("time_to_first_token")
        if osl is not None and ttft is not None and osl >= 2.0:
            put("inter_token_latency", (lat - ttft) / (osl - 1.0))
        if m.get("inter_token_latency", 0.0) > 0.0:
            put("output_token_throughput_per_user", 1.0 / (m["inter_token_latency"] / NS_PER_S))
        if osl is not None and lat > 0.0:
            put("e2e_output_token_throughput", osl / (lat / NS_PER_S))
        if "input_sequence_length" in m and ttft is not None and ttft > 0.0:
            put("prefill_throughput_per_user", m["input_sequence_length"] / (ttft / NS_PER_S))
        for key, tag in (("prompt_tokens", "usage_prompt_tokens"), ("completion_tokens", "usage_completion_tokens"),
                         ("total_tokens", "usage_total_tokens")):
            put(tag, usage.get(key))
        put("usage_reasoning_tokens", reasoning)
        put("usage_prompt_cache_read_tokens", (usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        payload = json.loads(raw["payload"]) if raw["payload"] else {}
        req = payload.get("max_completion_tokens", payload.get("max_tokens"))
        if isinstance(req, int) and not isinstance(req, bool) and req >= 0:
            put("requested_osl", req)
            if req != 0 and osl is not None:
                put("osl_mismatch_diff_pct", (osl - req) / req * 100.0)
                put("osl_mismatch_count", 1.0 if abs(osl - req) > min(req * (5.0 / 100.0), 50.0) else 0.0)
        if raw["credit_received_perf_ns"] <= start:
            put("credit_drop_latency", start - raw["credit_received_perf_ns"])
        if credit.get("scheduled_at_ns") is not None:
            put("schedule_lag", raw["request_start_ns"] - credit["scheduled_at_ns"])
        if raw.get("http_trace") is not None:  # the transport traced the request
            for tag, value in http_trace_metrics(raw["http_trace"]):
                put(tag, value)

    def wall(perf_ns):
        return max(raw["request_start_ns"] + perf_ns - start, 0)

    phase = credit["phase"]
    phase_index = 0 if phase == "warmup" else int(cfg.get("warmup_request_count", 0) > 0)
    metadata = {
        "session_num": credit["id"], "x_request_id": raw["x_request_id"],
        "x_correlation_id": credit["x_correlation_id"], "conversation_id": credit["conversation_id"],
        "turn_index": credit["turn_index"], "credit_issued_ns": credit["issued_at_ns"],
        "scheduled_ns": credit.get("scheduled_at_ns"), "request_start_ns": raw["request_start_ns"],
        "request_ack_ns": None if raw.get("ack_perf_ns") is None or raw.get("error") else wall(raw["ack_perf_ns"]),
        "request_end_ns": wall(raw["end_perf_ns"]), "worker_id": raw["worker_id"],
        "record_processor_id": processor_id, "benchmark_phase": phase, "phase_index": phase_index,
        "profiling_index": None if phase == "warmup" else 0, "phase_name": phase, "phase_kind": phase,
        "was_cancelled": raw["was_cancelled"],
        "cancellation_time_ns": None if raw.get("cancellation_perf_ns") is None else wall(raw["cancellation_perf_ns"]),
        "context_overflow_skip": False, "agent_depth": 0, "root_correlation_id": credit["x_correlation_id"],
    }
    metadata = {k: v for k, v in metadata.items() if v is not None}
    return {"metadata": metadata, "metrics": [[t, v] for t, v in m.items()], "error": error, "raw_json": None}


def refusal(cfg):
    """Why this processor cannot serve a run configured as `cfg` (None: it can)."""
    if not cfg.get("use_server_token_count"):
        return "the Python record processor has no tokenizer: run with --use-server-token-count"
    if cfg.get("goodput"):
        return "the Python record processor does not compute goodput: drop --goodput"
    if cfg.get("export_level") == "raw":
        return "the Python record processor does not write raw records: drop --export-level raw"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--control"), ap.add_argument("--zmq-ipc-path"), ap.add_argument("--zmq-host")
    ap.add_argument("--zmq-base-port", type=int, default=5557)
    ap.add_argument("--service-id", default=f"record_processor_py{os.getpid()}")
    ap.add_argument("--capture", help="append every message received and sent here (for tests)")
    a = ap.parse_args()
    control = a.control or (f"ipc://{a.zmq_ipc_path}/control.ipc" if a.zmq_ipc_path else
                            f"tcp://{a.zmq_host}:{a.zmq_base_port + 110}" if a.zmq_host else None)
    if control is None:
        sys.exit("error: say where the controller is: --zmq-ipc-path DIR, --zmq-host HOST or --control ADDR")
    capture = open(a.capture, "ab") if a.capture else None

    def record(frame):  # length-prefixed frames: configure command, then (raw, metric) pairs
        if capture:
            capture.write(struct.pack(">I", len(frame)) + frame)
            capture.flush()

    zctx = zmq.Context()
    ctl = zctx.socket(zmq.DEALER)
    ctl.setsockopt(zmq.IDENTITY, a.service_id.encode())
    ctl.connect(control)

    def send(msg_type, **fields):
        ctl.send(pack({"message_type": msg_type, "service_id": a.service_id, **fields}))

    send("register", protocol_version=PROTOCOL_VERSION, service_type="record_processor", pid=os.getpid())
    if not ctl.poll(30_000):
        sys.exit(f"error: controller at {control} did not answer the registration")
    welcome = unpack(ctl.recv())
    if welcome["message_type"] != "welcome":
        sys.exit(f"error: controller refused registration: {welcome.get('reason')}")
    endpoints, state, cfg = welcome["endpoints"], "initialized", None
    pull = push = None
    lost = ctl.get_monitor_socket(zmq.EVENT_DISCONNECTED)  # the controller is gone
    poller = zmq.Poller()
    poller.register(ctl, zmq.POLLIN), poller.register(lost, zmq.POLLIN)
    next_beat = 0.0
    while True:
        if time.monotonic() >= next_beat:
            send("heartbeat", state=state)
            next_beat = time.monotonic() + HEARTBEAT_S
        for sock, _ in poller.poll(timeout=100):
            if sock is lost:
                sys.exit(f"error: the controller at {control} went away before the shutdown")
            if sock is pull:
                frame = pull.recv()
                out = pack(interpret(unpack(frame), cfg, a.service_id))
                push.send(out)
                record(frame), record(out)
                continue
            frame = ctl.recv()
            msg = unpack(frame)
            if msg["message_type"] != "command":
                continue
            cmd, error = msg["command"], None
            if cmd["command"] == "configure":
                record(frame)
                cfg, error = cmd["config"], refusal(cmd["config"])
                if error is None and pull is None:
                    pull, push = zctx.socket(zmq.PULL), zctx.socket(zmq.PUSH)
                    pull.connect(endpoints["raw_records_backend"])
                    push.connect(endpoints["records"])
                    poller.register(pull, zmq.POLLIN)
                    state = "ready"
            elif cmd["command"] == "start":
                state = "running"
            send("command_response", command_id=msg["command_id"],
                 status="success" if error is None else "failure", error=error)
            if cmd["command"] == "shutdown":
                ctl.disable_monitor()
                for s in (lost, ctl, pull, push):
                    if s is not None:
                        s.close(linger=1000)
                zctx.term()
                return


if __name__ == "__main__":
    main()
