# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
`raiv-stereo bench`: our core and node pipeline side by side with plain OpenCV, and accuracy.

The options, and the run that fills the report section by section (0 configurations, 1 speed,
2 node pipeline, 2b per stage, 3 accuracy, 3c evaluation family, 4 scaling).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
import shlex
import sys

from raiv_stereo.tools.bench.accuracy import (
    bench_configurations,
    bench_family,
    dataset_accuracy,
    FAMILY_SEEDS,
    synthetic_accuracy,
)
from raiv_stereo.tools.bench.pipeline import bench_node_pipeline, bench_pipeline_stages
from raiv_stereo.tools.bench.report import machine, markdown, write_report
from raiv_stereo.tools.bench.timing import (
    bench_input_size,
    bench_speed,
    bench_stages,
    bench_window,
    render_frames,
    rig,
    speed_configs,
)
from raiv_stereo.tools.cli import CommandError, domain_id_from_env, output_folder


def _node_runs():
    """Return ros.bench_runs, for the sections that run nodes or publish messages (rclpy)."""
    # The bench's only ROS import, deferred to here: the CLI's parser imports this module, and
    # `raiv-stereo --help`, --family-only and --no-ros --quick work without ROS installed.
    from raiv_stereo.ros import bench_runs

    return bench_runs


def run_bench(args: argparse.Namespace, log: Callable[[str], None] = print,
              report: dict | None = None) -> dict:
    """
    Run every measurement the options ask for into `report` (plain data) and return it.

    Sections are filled in as they finish, so an interrupted run leaves the finished ones.
    """
    report = {} if report is None else report
    report.update({'machine': machine(), 'quick': bool(args.quick), 'notes': []})
    frames = args.frames or (3 if args.quick else 12)
    seeds = FAMILY_SEEDS[:max(1, args.family_seeds)] if args.family_seeds <= len(
        FAMILY_SEEDS) else tuple(range(FAMILY_SEEDS[0], FAMILY_SEEDS[0] + args.family_seeds))
    if args.family_only:
        log('3c. evaluation family')
        report['family'] = bench_family(seeds, log)
        return report
    calibration = rig()
    log('rendering frames ...')
    pairs = render_frames(calibration, 2 if args.quick else 4)
    if getattr(args, 'stages_only', False):
        log('2b. per process and per stage at 30 Hz')
        report['pipeline_stages'] = bench_pipeline_stages(
            calibration, pairs, args, log, _node_runs().run_node_pipeline)
        return report

    log('0. configurations: speed and accuracy')
    report['configurations'] = bench_configurations(calibration, frames, log, args.quick)

    log('1. speed')
    report['speed'] = bench_speed(calibration, pairs, speed_configs(args.quick, args.hh),
                                  frames, log)

    if not args.no_ros:
        log('2. node pipeline over DDS')
        report['pipeline'] = bench_node_pipeline(calibration, pairs, args, log,
                                                 _node_runs().run_node_pipeline)
        log('2b. per process and per stage at 30 Hz')
        report['pipeline_stages'] = bench_pipeline_stages(calibration, pairs, args, log,
                                                          _node_runs().run_node_pipeline)

    log('3. accuracy')
    report['synthetic'] = [synthetic_accuracy(calibration, 0.5, 300.0, 3000.0,
                                              2 if args.quick else 3)]
    if not args.quick:
        report['synthetic'].append(synthetic_accuracy(calibration, 0.5, 300.0, 600.0, 3))
        report['synthetic'].append(synthetic_accuracy(calibration, 1.0, 300.0, 3000.0, 2))
        report['datasets'] = dataset_accuracy(log)
    log('3c. evaluation family')
    report['family'] = bench_family(seeds[:2] if args.quick else seeds, log)

    log('4. scaling')
    if args.quick:
        report['window'] = bench_window(calibration, pairs, [16, 64], 2)
    else:
        report['size'] = bench_input_size([(800, 650), (1200, 975), (1600, 1300),
                                           (2400, 1950)], 6, 0.5)
        report['window'] = bench_window(calibration, pairs, [16, 32, 64, 96, 128, 192, 256],
                                        6)
        report['stages'] = bench_stages(calibration, pairs, frames,
                                        _node_runs().node_stage_times)
    return report


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the Markdown table and where the files went (Ctrl-C: so far)."""
    try:  # before the run: a folder that cannot take the results would lose them at the end
        if not args.no_ros:
            domain_id_from_env()
        output_folder(args.out)
    except CommandError as error:
        print(f'raiv-stereo bench: error: {error}', file=sys.stderr)
        return 1
    report: dict = {'command': shlex.join(['raiv-stereo', *sys.argv[1:]])}
    interrupted = False
    try:
        run_bench(args, log=lambda text: print(text, flush=True), report=report)
    except KeyboardInterrupt:
        interrupted = True
        report.setdefault('notes', []).append(
            'INTERRUPTED (Ctrl-C): only the sections finished before it are here.')
    files = write_report(report, Path(args.out))
    print(markdown(report))
    for path in files:
        print(f'wrote {path}')
    return 130 if interrupted else 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `bench` subcommand."""
    parser = subparsers.add_parser(
        'bench', help='benchmark the core and the node pipeline against plain OpenCV',
        description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='bench_results', help='folder for bench.md and plots')
    parser.add_argument('--quick', action='store_true',
                        help='smallest subset: one configuration, few frames')
    parser.add_argument('--frames', type=int, default=0, help='frames per configuration')
    parser.add_argument('--hh', action='store_true',
                        help="also time SGBM mode 'hh' at scale 1.0 (very slow)")
    parser.add_argument('--no-ros', action='store_true', help='skip the DDS node pipeline')
    parser.add_argument('--family-only', action='store_true',
                        help='only the evaluation family section (a few minutes)')
    parser.add_argument('--family-seeds', type=int, default=len(FAMILY_SEEDS),
                        help='held-out family scenes to evaluate (from seed 1000)')
    parser.add_argument('--stages-only', action='store_true',
                        help='only section 2b: per process and per stage at 30 Hz')
    parser.add_argument('--seconds', type=float, default=8.0,
                        help='measurement time of each node pipeline run (s)')
    parser.set_defaults(func=run)
