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

"""The main job end to end: `raiv-stereo demo` through real nodes and DDS, measured accuracy."""

import os
import re
import signal
import subprocess
import sys
import time

import cv2
from helpers import textured_pair
import numpy as np
import pytest
from raiv_stereo.core.depth import colorize_depth, legend_bar_rows
from raiv_stereo.eval.metrics import DepthAccuracy
from raiv_stereo.ros.domain_probe import (
    choose_domain,
    discovery_done,
    DISCOVERY_MAX_S,
    DISCOVERY_MIN_S,
    DISCOVERY_SETTLE_S,
    pick_free_domain,
)
from raiv_stereo.ros.namespace import namespace_problem
from raiv_stereo.tools.cli import build_parser, CommandError
from raiv_stereo.tools.demo import (
    demo_launch_arguments,
    DemoResult,
    keep_up_hint,
    option_problems,
    side_by_side,
)
from std_msgs.msg import String


def test_depth_accuracy_counts_what_it_should():
    truth = np.full((4, 5), 2.0, np.float32)
    truth[0, 0] = np.nan  # unknown truth is not judged
    depth = truth.copy()
    depth[1, :] = 2.03  # 1.5 % off
    depth[2, 0] = np.nan  # a hole
    accuracy = DepthAccuracy.measure(depth, truth, 0.3, 3.0)
    judged = 19
    assert accuracy.completeness == pytest.approx(18 / judged)
    assert accuracy.within_1pct == pytest.approx(13 / judged)
    assert accuracy.within_2pct == pytest.approx(18 / judged)
    assert accuracy.median_error_mm == pytest.approx(0.0)


def test_side_by_side_is_left_then_colour_then_its_scale_bar():
    left, _ = textured_pair(65, 80, channels=1)
    color = colorize_depth(np.linspace(0.3, 3.0, 65 * 80, dtype=np.float32).reshape(65, 80),
                           0.3, 3.0)
    picture = side_by_side(left, color, 0.3, 3.0)
    assert picture.shape == (65, 80 + 80 + 90, 3)
    np.testing.assert_array_equal(picture[:, :80], np.repeat(left[..., None], 3, axis=2))
    np.testing.assert_array_equal(picture[:, 80:160], color)
    top, bottom = legend_bar_rows(65)
    bar = picture[top:bottom, 160 + 4:160 + 24]  # near (0.3 m) at the top: the colour of 0.3 m
    np.testing.assert_array_equal(bar[0, 0], color[0, 0])
    np.testing.assert_array_equal(bar[-1, 0], color[-1, -1])


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_measures_depth(tmp_path):
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'demo', '--seconds', '4',
         '--out', str(tmp_path), '--evaluate-frames', '3'],
        capture_output=True, text=True, timeout=180, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    fps = float(re.search(r'= ([\d.]+) fps', output).group(1))
    assert fps > 1.0, output
    within_5 = float(re.search(r'within 5 % ([\d.]+) %', output).group(1))
    completeness = float(re.search(r'completeness ([\d.]+) %', output).group(1))
    # The sample scene is textured everywhere: most of it must come back within 5 %.
    assert completeness > 85.0 and within_5 > 80.0, output
    picture = cv2.imread(str(tmp_path / 'side_by_side.png'))
    assert picture is not None and picture.shape[0] == 650, output
    # depth_color.png carries its 90 px scale bar beside the 800x650 colour depth.
    assert cv2.imread(str(tmp_path / 'depth_color.png')).shape[:2] == (650, 890)
    domain = re.search(r'ROS_DOMAIN_ID=(\d+)', output).group(1)
    assert f'ROS_DOMAIN_ID={domain} ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST raiv-stereo view ' \
        '--namespace raiv' in output, output


def test_keep_up_hint_says_why_the_depth_fell_behind():
    behind = DemoResult(frames=30, elapsed_s=10.0, processing_ms=[180.0, 200.0, 220.0],
                        dropped=70)
    lines = keep_up_hint(behind, rate_hz=10.0, load_1min=3.5)
    text = ' '.join(lines)
    assert '3.0 of 10 fps' in text and '70 pairs dropped' in text, text
    assert '200 ms per pair' in text and 'every 100 ms' in text and 'load average 3.5' in text
    # Keeping up (9.5 of 10 fps) is not worth a note.
    assert keep_up_hint(DemoResult(frames=95, elapsed_s=10.0), 10.0, 0.5) == []


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_at_once_with_the_figures_so_far(tmp_path):
    out = tmp_path / 'interrupted_demo'
    # 30 Hz is more than 2 cores render and match: the summary must explain the shortfall.
    demo = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'demo', '--seconds', '60',
         '--rate-hz', '30', '--out', str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The depth node logs its statistics once pairs flow; interrupt 2 s into measuring.
        for line in demo.stderr:
            if 'processing ms (median)' in line:
                break
        time.sleep(2.0)
        sent = time.monotonic()
        demo.send_signal(signal.SIGINT)
        stdout, stderr = demo.communicate(timeout=20)
        stopped_s = time.monotonic() - sent
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, stdout + stderr
    assert stopped_s < 5.0, stopped_s  # measured 0.3 s; a hung shutdown would take 60 s
    header = re.search(r'INTERRUPTED after ([\d.]+) of 60 s', stdout)
    assert header and float(header.group(1)) < 30, stdout
    frames = int(re.search(r'depth frames received : (\d+)', stdout).group(1))
    fps = float(re.search(r'= ([\d.]+) fps', stdout).group(1))
    assert frames > 0 and 'completeness' in stdout, stdout
    assert ('NOTE: the depth node did not keep up' in stdout) == (fps < 27.0), stdout
    assert (out / 'side_by_side.png').exists()
    # Nothing of the demo is left running.
    leftover = subprocess.run(['pgrep', '-f', str(out)], capture_output=True, text=True)
    assert leftover.stdout == '', leftover.stdout


@pytest.mark.parametrize('lens, near_mm, far_mm', [('2.8', '300', '3000'),
                                                   ('25', '2680', '26790')])
def test_the_demo_takes_the_lens_preset_range_by_default(lens, near_mm, far_mm):
    args = build_parser().parse_args(['demo', '--focal-length-mm', lens])
    assert option_problems(args, namespace_problem) == []
    launch = demo_launch_arguments(args)  # config/lens_<f>mm.yaml's range
    assert (launch['min_depth_mm'], launch['max_depth_mm']) == (near_mm, far_mm)


def test_a_free_domain_is_one_without_other_participants(ros_session):
    busy = int(os.environ['ROS_DOMAIN_ID'])
    ros_session.node('someone_here', 'elsewhere')
    ros_session.spin_in_background()
    other = next(domain for domain in range(1, 102) if domain != busy)
    assert pick_free_domain([busy, other]) == other


def test_the_demo_listens_past_one_announcement_period_then_until_the_graph_settles():
    # A participant that missed the probe's first announcements is found at its next periodic
    # one (Fast DDS: every 3 s): a domain that still looks empty at 3 s is not taken as empty.
    assert not discovery_done(listened_s=3.0, unchanged_s=3.0)
    assert discovery_done(DISCOVERY_MIN_S, DISCOVERY_MIN_S)
    # Something new just showed up (a node; its topics follow): keep listening, up to the bound.
    assert not discovery_done(DISCOVERY_MIN_S + 1.0, DISCOVERY_SETTLE_S / 2)
    assert discovery_done(DISCOVERY_MIN_S + 1.0, DISCOVERY_SETTLE_S)
    assert discovery_done(DISCOVERY_MAX_S, 0.0)


def test_the_demo_finds_a_namespace_in_use_in_its_own_process_domain(ros_session):
    busy = ros_session.node('other_demo', 'busy_here')
    busy.create_publisher(String, 'depth/image_rect', 1)
    ros_session.spin_in_background()
    with pytest.raises(CommandError, match='has publishers on /busy_here/depth/image_rect'):
        choose_domain('busy_here')


@pytest.mark.slow
def test_a_picture_the_demo_cannot_write_is_an_error(tmp_path):
    (tmp_path / 'depth_color.png').mkdir()  # OpenCV cannot write a file where a folder is
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'demo', '--seconds', '1', '--out',
         str(tmp_path), '--evaluate-frames', '1'],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == \
        f'raiv-stereo demo: error: cannot write {tmp_path / "depth_color.png"}', result.stderr
    assert f'wrote {tmp_path / "depth_color.png"}' not in result.stdout
    assert f'wrote {tmp_path / "side_by_side.png"}' in result.stdout, result.stdout


def test_a_demo_that_measured_no_frame_says_so(tmp_path, capsys):
    # A loaded machine can deliver no depth frame in a short window after the warm-up: the
    # exit code 1 comes with a line saying why and what to do, not the figures alone.
    from raiv_stereo.tools import cli, demo

    def run_demo(args):
        return demo.DemoResult(frames=0, elapsed_s=1.0)
    args = cli.build_parser().parse_args(['demo', '--seconds', '1', '--out', str(tmp_path)])
    # fills what the lens preset decides
    assert demo.option_problems(args, namespace_problem) == []
    assert demo._run_locked(args, 0, run_demo) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('raiv-stereo demo: error: no depth frame arrived in the 1.0 s')
    assert '--seconds' in err[-1]
