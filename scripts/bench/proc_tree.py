#!/usr/bin/env python3
"""Runs a command and measures its whole process tree; prints one JSON object.

  {"rc": exit code, "wall_s": …, "start_unix_ns": wall clock at launch,
   "cpu_s": user + system CPU of the command and every descendant it reaped,
   "cpu_user_s": …, "cpu_sys_s": …,
   "peak_rss_mb": largest sum of RSS over the tree (sampled), "peak_procs": …}

CPU comes from getrusage(RUSAGE_CHILDREN) around the run, which counts every
process of the tree that was waited for (a multi-process client's services are
reaped by their parent). Peak RSS is the largest sum of `VmRSS` over the command
and all its descendants, sampled every `--interval` seconds (default 0.02), and
never below the command's own `ru_maxrss`.

Usage: proc_tree.py [--interval S] [--stdout FILE] [--stderr FILE] -- CMD ARGS…
"""
import argparse
import json
import os
import resource
import subprocess
import threading
import time


def children_map():
    """parent pid -> child pids, from /proc."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(root):
    kids, out, todo = children_map(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--stdout", default=os.devnull)
    ap.add_argument("--stderr", default=os.devnull)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = {"kb": 0, "procs": 0}
    start_ns = time.time_ns()
    t0 = time.monotonic()
    with open(a.stdout, "w") as out, open(a.stderr, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        done = threading.Event()

        def sample():
            while not done.is_set():
                pids = tree(proc.pid)
                total = sum(rss_kb(p) for p in pids)
                if total > peak["kb"]:
                    peak["kb"], peak["procs"] = total, len(pids)
                done.wait(a.interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        done.set()
        sampler.join()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    sys_ = after.ru_stime - before.ru_stime
    print(json.dumps({
        "rc": rc,
        "wall_s": wall,
        "start_unix_ns": start_ns,
        "cpu_s": user + sys_,
        "cpu_user_s": user,
        "cpu_sys_s": sys_,
        "peak_rss_mb": max(peak["kb"], after.ru_maxrss) / 1024.0,
        "peak_procs": peak["procs"],
    }))


if __name__ == "__main__":
    main()
