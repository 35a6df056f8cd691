"""Collection benchmark: the pipeline against a naive BAC0 loop and raw bacpypes3, in one run.

    python -m bench.collect --devices 5 --points 200
    python -m bench.collect --devices 20 --points 50 --latency-ms 20

Against the same simulated devices (a separate process, on 127.0.<block>.10 and up) it measures

- naive: one BAC0 ``read()`` per point, sequentially (time-bounded by ``--naive-seconds``);
- raw: pipelined bacpypes3 ReadPropertyMultiple, no engine and no database (the ceiling);
- pipeline: ``collect_readings`` as the worker runs it, database write included.

Raw and pipeline rounds alternate (one warm-up round each, then ``--rounds`` measured; the
medians are reported), so a machine that gets busier or quieter during the run affects both
alike. It prints a table, then as its last line one JSON object with
``naive_pts_s``, ``raw_pts_s``, ``pipeline_pts_s``, ``vs_naive`` and ``vs_raw``.
Loopback only; see docs/performance.md for the numbers and how they were tuned.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence

from bacnet.runtime import check_port_free
from bench.naive import measure_naive
from bench.pipeline import PipelineClient
from bench.raw import RAW_BATCH, RAW_IN_FLIGHT, RawClient
from bench.simproc import SimulatorProcess

#: Client ports on 127.0.<block>.1: one per client, none the devices' 47808.
NAIVE_PORT, RAW_PORT, PIPELINE_PORT = 47810, 47811, 47812
#: First device address in the block (.1 is the clients').
FIRST_DEVICE = 10
#: Blocks chosen at random when none is given: away from the tests' 100..249 and the demo's 0.
RANDOM_BLOCKS = range(20, 100)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5, help="simulated devices (1-200)")
    parser.add_argument("--points", type=int, default=200, help="points per device (1-5000)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every device answer (0-1000)")
    parser.add_argument("--rounds", type=int, default=7, help="measured raw and pipeline rounds (1-50)")
    parser.add_argument("--naive-seconds", type=float, default=10.0,
                        help="time budget of the naive loop (1-120 s); it stops early when every point is read")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite in a temp folder)")
    parser.add_argument("--in-flight", type=int, default=None,
                        help="pipeline requests per device (default: BACNET_MAX_IN_FLIGHT, i.e. 2)")
    parser.add_argument("--block", type=int, default=None, help="use 127.0.<block>.x (default: random 20-99)")
    args = parser.parse_args(argv)
    checks = [(1 <= args.devices <= 200, "--devices must be 1..200"),
              (1 <= args.points <= 5000, "--points must be 1..5000"),
              (0 <= args.latency_ms <= 1000, "--latency-ms must be 0..1000"),
              (1 <= args.rounds <= 50, "--rounds must be 1..50"),
              (1 <= args.naive_seconds <= 120, "--naive-seconds must be 1..120"),
              (args.in_flight is None or 1 <= args.in_flight <= 16, "--in-flight must be 1..16"),
              (args.block is None or 1 <= args.block <= 254, "--block must be 1..254")]
    for ok, message in checks:
        if not ok:
            parser.error(message)
    if args.database_url and not args.database_url.startswith(("postgresql", "sqlite")):
        parser.error("--database-url must be a postgresql:// or sqlite:// URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    block = args.block if args.block is not None else random.choice(RANDOM_BLOCKS)
    client = f"127.0.{block}.1"
    for port in (NAIVE_PORT, RAW_PORT, PIPELINE_PORT):
        check_port_free(client, port)
    total = args.devices * args.points
    with SimulatorProcess(args.devices, args.points, base_address=f"127.0.{block}.{FIRST_DEVICE}",
                          latency_ms=args.latency_ms) as devices:
        naive_read, naive_failed, naive_seconds = measure_naive(f"{client}/8:{NAIVE_PORT}", devices,
                                                                budget=args.naive_seconds)
        raw = RawClient(f"{client}/8:{RAW_PORT}")
        pipeline = PipelineClient(f"{client}/8:{PIPELINE_PORT}", devices, database_url=args.database_url,
                                  in_flight=args.in_flight)
        raw_rates: list[float] = []
        pipeline_rates: list[float] = []
        short_rounds = 0
        raw.start()
        try:
            pipeline.start()
            for round_ in range(args.rounds + 1):
                # Alternate which goes first, so neither always follows the other's leftovers.
                if round_ % 2:
                    stored, pipeline_seconds = pipeline.read_round()
                    raw_count, raw_seconds = raw.read_round(devices)
                else:
                    raw_count, raw_seconds = raw.read_round(devices)
                    stored, pipeline_seconds = pipeline.read_round()
                short_rounds += (raw_count < total) + (stored < total)
                if round_:  # round 0 warms up: compiled statements, device profiles, caches
                    raw_rates.append(raw_count / raw_seconds)
                    pipeline_rates.append(stored / pipeline_seconds)
        finally:
            raw.stop()
            pipeline.stop()

    naive = naive_read / naive_seconds if naive_seconds else 0.0
    raw_median = statistics.median(raw_rates)
    pipeline_median = statistics.median(pipeline_rates)
    print(f"bench.collect: {args.devices} devices x {args.points} points, latency {args.latency_ms:g} ms, "
          f"{args.rounds} rounds (+1 warm-up), database {pipeline.database}, devices on 127.0.{block}.x")
    print(f"{'method':<10} {'points/s':>10}  detail")
    print(f"{'naive':<10} {naive:>10.0f}  BAC0 read() per point: {naive_read} read, {naive_failed} failed "
          f"in {naive_seconds:.1f} s")
    print(f"{'raw':<10} {raw_median:>10.0f}  bacpypes3 RPM, {RAW_BATCH} per request, {RAW_IN_FLIGHT} in flight "
          f"per device; rounds {', '.join(f'{rate:.0f}' for rate in raw_rates)}")
    print(f"{'pipeline':<10} {pipeline_median:>10.0f}  collect_readings, {pipeline.engine.in_flight} in flight "
          f"per device, {pipeline.database} write; rounds {', '.join(f'{rate:.0f}' for rate in pipeline_rates)}")
    print(f"{'':<10} {'':>10}  last summary: {json.dumps(pipeline.summary)}")
    if short_rounds:
        print(f"WARNING: {short_rounds} rounds read fewer than all {total} points: the rates are not comparable")
    print(json.dumps({
        "naive_pts_s": round(naive, 1),
        "raw_pts_s": round(raw_median, 1),
        "pipeline_pts_s": round(pipeline_median, 1),
        "vs_naive": round(pipeline_median / naive, 2) if naive else None,
        "vs_raw": round(pipeline_median / raw_median, 3) if raw_median else None,
    }), flush=True)
    return 1 if short_rounds else 0


if __name__ == "__main__":
    sys.exit(main())
