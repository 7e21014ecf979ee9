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
`raiv-stereo demo`: the camera and depth nodes on the built-in sample scene, over real topics.

Both nodes run in this process with the same launch-argument mapping as depth.launch.py; a
monitor node subscribes like any other ROS user would, measures frame rate, latency and the depth
error against the sample scene's exact geometry, and saves pictures.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
import fcntl
import os
from pathlib import Path
import random
import statistics
import sys

import cv2
import numpy as np
from raiv_stereo.core.depth import depth_legend
from raiv_stereo.eval.metrics import DepthAccuracy, percentile
from raiv_stereo.params import (
    camera as camera_params,
    depth as depth_params,
    launch as launch_config,
)
from raiv_stereo.params.spec import FloatRange, IntRange, ParamSpec, ParamTable
from raiv_stereo.tools.cli import (
    CommandError,
    domain_id_from_env,
    HelpFormatter,
    output_folder,
)
from raiv_stereo.tools.offline import add_depth_range, fill_lens_defaults, window_problem

OPTIONS = ParamTable((
    ParamSpec('seconds', 8.0, 'measurement time, s', FloatRange(0.1, 86400.0)),
    ParamSpec('evaluate_frames', 5, 'frames compared with ground truth', IntRange(0, 1000)),
))
"""The demo's own settings; the nodes' settings it takes are checked as launch arguments."""

KEEP_UP_SHARE = 0.9
"""Below this share of the camera rate, the demo's summary explains why the depth fell behind."""
LOCK_NAME = '.raiv-stereo-demo.lock'
"""Held in the output folder while a demo runs: a second demo refuses to share the folder."""


def ensure_local_dds() -> str:
    """Keep DDS on this host and pick a domain unless the user set one; return the domain id."""
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if domain_id_from_env() is None:
        os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
    return os.environ['ROS_DOMAIN_ID']


def lock_output_folder(out: Path):
    """Return an open lock file held on `out`, or raise CommandError if another demo holds it."""
    lock = open(out / LOCK_NAME, 'a+')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip()
        lock.close()
        raise CommandError(f'--out {out} is in use by another demo'
                           f'{f" (pid {holder})" if holder else ""}; give another --out'
                           ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


@dataclass
class DemoResult:
    """What the demo measured."""

    frames: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    accuracy: list[DepthAccuracy] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    unwritten: list[Path] = field(default_factory=list)
    processing_ms: list[float] = field(default_factory=list)
    dropped: int = 0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        """Return depth frames received per second."""
        return self.frames / self.elapsed_s if self.elapsed_s else 0.0


def side_by_side(left_bgr: np.ndarray, depth_color: np.ndarray, min_depth_m: float,
                 max_depth_m: float) -> np.ndarray:
    """Return `left | colour depth | metre scale bar` as one picture."""
    if left_bgr.ndim == 2:
        left_bgr = cv2.cvtColor(left_bgr, cv2.COLOR_GRAY2BGR)
    legend = depth_legend(depth_color.shape[0], min_depth_m, max_depth_m, left_border=True)
    return np.hstack([left_bgr, depth_color, legend])


def demo_launch_arguments(args: argparse.Namespace) -> dict[str, str]:
    """Return the launch arguments depth.launch.py would get for these demo options."""
    return {'namespace': args.namespace, 'source': 'sample',
            'focal_length_mm': f'{args.focal_length_mm:g}',
            'min_depth_mm': f'{args.min_depth_mm:g}', 'max_depth_mm': f'{args.max_depth_mm:g}',
            'scale': f'{args.scale:g}', 'rate_hz': f'{args.rate_hz:g}',
            'sgbm_resolution': args.sgbm_resolution}


def keep_up_hint(result: DemoResult, rate_hz: float,
                 load_1min: float | None = None) -> list[str]:
    """Return lines saying why, when the depth node delivered under 90 % of the camera rate."""
    if not result.frames or result.fps >= KEEP_UP_SHARE * rate_hz:
        return []
    load_1min = os.getloadavg()[0] if load_1min is None else load_1min
    period_ms = 1000.0 / rate_hz
    lines = [f'  NOTE: the depth node did not keep up: {result.fps:.1f} of {rate_hz:g} fps, '
             f'{result.dropped} pairs dropped (it keeps only the newest pair).']
    if result.processing_ms:
        processing_ms = statistics.median(result.processing_ms)
        lines.append(f'        It needs {processing_ms:.0f} ms per pair; the camera sends one '
                     f'every {period_ms:.0f} ms'
                     + (' (the sample camera renders its frames on the same cores).'
                        if processing_ms < period_ms else '.'))
    lines.append(f'        CPU load average {load_1min:.1f} on {os.cpu_count()} cores. Try a '
                 'lower --rate-hz, a smaller --scale, a narrower depth range, or fewer other '
                 'programs.')
    return lines


def report(result: DemoResult, args: argparse.Namespace) -> str:
    """Return the demo's printed summary."""
    lines = [
        f'raiv-stereo demo: sample scene, RAiV {args.focal_length_mm:g} mm lens, 65 mm baseline, '
        f'1600x1300 -> scale {args.scale:g}, {args.min_depth_mm:g}-{args.max_depth_mm:g} mm, '
        f'sgbm_resolution {args.sgbm_resolution}'
        + (f' (INTERRUPTED after {result.elapsed_s:.1f} of {args.seconds:g} s: figures so far)'
           if result.interrupted else ''),
        f'  depth frames received : {result.frames} in {result.elapsed_s:.1f} s = '
        f'{result.fps:.1f} fps (camera at {args.rate_hz:g} Hz; pairs dropped: {result.dropped})',
        f'  latency camera->depth : median {percentile(result.latencies_ms, 50):.0f} ms, '
        f'p90 {percentile(result.latencies_ms, 90):.0f} ms',
    ]
    if result.processing_ms:
        lines.append(f'  depth node processing : median '
                     f'{statistics.median(result.processing_ms):.0f} ms per frame')
    lines += keep_up_hint(result, args.rate_hz)
    if result.accuracy:
        def mean(name: str) -> float:
            return float(np.mean([getattr(a, name) for a in result.accuracy]))
        lines += [
            f'  depth vs ground truth ({len(result.accuracy)} frames, pixels in range and in '
            'the valid window):',
            f'    completeness {100 * mean("completeness"):.1f} %, within 1 % '
            f'{100 * mean("within_1pct"):.1f} %, within 2 % {100 * mean("within_2pct"):.1f} %, '
            f'within 5 % {100 * mean("within_5pct"):.1f} %',
            f'    median error {mean("median_error_mm"):.1f} mm',
        ]
    lines += [f'  wrote {path}' for path in result.files]
    return '\n'.join(lines)


def option_problems(args: argparse.Namespace,
                    namespace_problem: Callable[[str], str | None]) -> list[str]:
    """
    Return what is wrong with the options (empty = usable); unset depths become the lens's.

    `namespace_problem` is ros.namespace's check (rcl's rule), passed in: tools import no ROS.
    """
    fill_lens_defaults(args)
    launch_args = demo_launch_arguments(args)
    try:  # the nodes' settings as the launch files check them, then the demo's own
        launch_config.camera_parameters(launch_args)
        launch_config.depth_parameters(launch_args)
        problems = OPTIONS.option_problems(args, OPTIONS.by_name)
    except launch_config.LaunchArgumentError as error:
        return [str(error)]
    problem = namespace_problem(args.namespace)
    if problem:
        problems.append(problem)
    if not problems:
        problem = window_problem(args.focal_length_mm, args.baseline_mm, args.pixel_size_um,
                                 args.scale, args.min_depth_mm, args.max_depth_mm)
        problems += [problem] if problem else []
    return problems


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it measured; unusable options are one error line, exit 1."""
    # The only ROS import of the demo, deferred to here: the CLI's parser imports this module,
    # and `raiv-stereo --help` and the offline commands work without ROS installed.
    from raiv_stereo.ros import demo_run, domain_probe, namespace

    try:
        problems = option_problems(args, namespace.namespace_problem)
        if problems:
            raise CommandError('; '.join(problems))
        domain_id_from_env()
        lock = lock_output_folder(output_folder(args.out))
        domain = domain_probe.choose_domain(args.namespace)
    except CommandError as error:
        print(f'raiv-stereo demo: error: {error}', file=sys.stderr)
        return 1
    try:
        return _run_locked(args, domain, demo_run.run_demo)
    finally:
        lock.close()


def _run_locked(args: argparse.Namespace, domain: int,
                run_demo: Callable[[argparse.Namespace], DemoResult]) -> int:
    """Run the demo in `domain` with the output folder locked; print and return its outcome."""
    discovery = os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']
    # The command as the user ran it (.venv/bin/raiv-stereo), else its name on PATH.
    command = sys.argv[0] if os.path.basename(sys.argv[0]) == 'raiv-stereo' else 'raiv-stereo'
    print(f'ROS_DOMAIN_ID={domain}, DDS discovery {discovery}; running {args.seconds:g} s '
          '(Ctrl-C stops early) ...\n'
          f'  watch from another shell: ROS_DOMAIN_ID={domain} '
          f'ROS_AUTOMATIC_DISCOVERY_RANGE={discovery} {command} view --namespace '
          f'{args.namespace}\n'
          f'  or, with ROS 2 sourced and the same variables: ros2 topic hz '
          f'/{args.namespace}/depth/image_rect', flush=True)
    result = run_demo(args)
    print(report(result, args), flush=True)
    if result.unwritten:
        print(f'raiv-stereo demo: error: cannot write {", ".join(map(str, result.unwritten))}',
              file=sys.stderr)
        return 1
    if result.interrupted:
        return 130
    if result.frames == 0:
        print(f'raiv-stereo demo: error: no depth frame arrived in the {result.elapsed_s:.1f} s '
              'measured after the warm-up (a busy machine or a slow pipeline); measure longer '
              'with --seconds', file=sys.stderr)
        return 1
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `demo` subcommand."""
    parser = subparsers.add_parser(
        'demo', help='run the camera and depth nodes on the sample scene over real ROS topics',
        formatter_class=HelpFormatter,
        description=__doc__.splitlines()[0])
    OPTIONS.add_options(parser, ('seconds',))
    parser.add_argument('--out', default='demo_output', help='folder for the pictures')
    parser.add_argument('--namespace', default=launch_config.NAMESPACE, help='ROS namespace')
    depth_params.TABLE.add_options(parser, ('scale',))
    add_depth_range(parser)
    depth_params.TABLE.add_options(parser, ('sgbm_resolution',))
    camera_params.TABLE.add_options(parser, ('focal_length_mm', 'rate_hz'))
    OPTIONS.add_options(parser, ('evaluate_frames',))
    parser.set_defaults(func=run)
