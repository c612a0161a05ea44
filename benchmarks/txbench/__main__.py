"""
The benchmark command: C{python -m txbench [--quick]} (run through
C{benchmarks/run}, which installs the peers and builds the load generator).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from txbench.report import Results
from txbench.scenarios import Bench, Settings
from txbench.servers import Tools
from txbench.system import BenchError, CpuAccounting, Processes, machine

BENCHMARKS = Path(__file__).resolve().parent.parent
REPO = BENCHMARKS.parent
PARTS = (
    "startup",
    "internal",
    "external-root",
    "external-nobody",
    "redirect",
    "only-from",
    "tls",
    "idle",
)


def parseArguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="txinetd against xinetd, tcpserver and stunnel, side by side, on loopback.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds (< 2 min)")
    parser.add_argument("--rounds", type=int, help="rounds of every rate scenario")
    parser.add_argument("--seconds", type=float, help="duration of one rate measurement")
    parser.add_argument(
        "--only", help=f"comma-separated parts to run, among: {', '.join(PARTS)}", default=""
    )
    parser.add_argument("--base-port", type=int, default=20000, help="first port used (20000)")
    parser.add_argument("--results", type=Path, default=BENCHMARKS / "results")
    parser.add_argument("--twistd", type=Path, default=REPO / ".venv" / "bin" / "twistd")
    parser.add_argument("--loadgen", type=Path, default=BENCHMARKS / "bin" / "loadgen")
    parser.add_argument("--keep", action="store_true", help="keep configurations and logs")
    return parser.parse_args(argv)


def settingsFrom(options: argparse.Namespace) -> Settings:
    settings = Settings.quick() if options.quick else Settings.full()
    if options.rounds:
        settings = dataclasses.replace(settings, rounds=options.rounds)
    if options.seconds:
        settings = dataclasses.replace(settings, seconds=options.seconds)
    return settings


def selectedParts(only: str) -> list[str]:
    wanted = [part.strip() for part in only.split(",") if part.strip()]
    unknown = sorted(set(wanted) - set(PARTS))
    if unknown:
        raise BenchError(f"unknown part(s) {', '.join(unknown)}; choose among {', '.join(PARTS)}")
    return wanted or list(PARTS)


def findTool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise BenchError(f"{name} is not installed (benchmarks/run installs it when run as root)")
    return found


def checkFile(path: Path, hint: str) -> Path:
    if not path.exists():
        raise BenchError(f"{path} does not exist: {hint}")
    return path


def stopOnSignal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def runParts(bench: Bench, parts: Sequence[str], log: Callable[[str], None]) -> None:
    actions: dict[str, Callable[[], None]] = {
        "startup": bench.runStartup,
        "idle": bench.runIdle,
    }
    for part in parts:
        began = time.monotonic()
        log(f"{part}: running")
        actions.get(part, lambda part=part: bench.runRates(part))()
        log(f"{part}: done in {time.monotonic() - began:.1f} s")
    bench.summariseCeiling()


def writeResults(directory: Path, document: dict[str, Any], stamp: str) -> Path:
    """
    Write the JSON document as C{<stamp>.json}: the file to commit when the
    performance page quotes it (C{benchmarks/tables}, docs/performance.md).
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stamp}.json"
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    options = parseArguments(argv)
    began = time.monotonic()
    started = datetime.now(UTC)

    def log(text: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {text}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stopOnSignal)
    signal.signal(signal.SIGHUP, stopOnSignal)
    cpu = CpuAccounting()
    processes = Processes(cpu)
    results = Results()
    settings = settingsFrom(options)
    host = machine(REPO, Path(sys.executable))
    work = Path(tempfile.mkdtemp(prefix="txbench-"))
    work.chmod(0o755)  # the credentials probe runs as nobody
    error = None
    parts: list[str] = []
    try:
        parts = selectedParts(options.only)
        tools = Tools(
            configs=BENCHMARKS / "configs",
            work=work,
            twistd=checkFile(options.twistd, "create the project's virtualenv (benchmarks/run)"),
            loadgen=checkFile(options.loadgen, "build it with benchmarks/run"),
            xinetd=findTool("xinetd"),
            tcpserver=findTool("tcpserver"),
            stunnel=findTool("stunnel4"),
            basePort=options.base_port,
        )
        findTool("prlimit")
        findTool("openssl")
        bench = Bench(settings, tools, processes, results)
        runParts(bench, parts, log)
    except BenchError as e:
        error = str(e)
    except (KeyboardInterrupt, SystemExit) as e:
        error = f"interrupted ({type(e).__name__})"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        processes.stopAll()
        cpu.close()
    tables = results.table() + "\n\nLoad generator ceiling:\n\n" + results.ceilingTable()
    document = {
        "date": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - began, 1),
        "machine": host,
        "settings": {
            **dataclasses.asdict(settings),
            "quick": options.quick,
            "parts": parts,
            "cpu_accounting": cpu.method,
        },
        "error": error,
        **results.toJson(),
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = writeResults(options.results, document, stamp)
    print(tables, flush=True)
    log(f"results: {path}")
    if error is not None:
        log(f"error: {error}; configurations and logs kept in {work}")
        return 1
    if options.keep:
        log(f"configurations and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
