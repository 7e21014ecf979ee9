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

"""`raiv-stereo view` headless: snapshots of the live colour depth with the centre depth in mm."""

import os
import re
import subprocess
import sys

import cv2
from helpers import wait_for
import numpy as np
from raiv_stereo.core.depth import depth_legend
from raiv_stereo.ros.viewer_run import colour_range_m
from raiv_stereo.tools.viewer import depth_at_mm, FramesByStamp


def test_depth_at_mm_reads_metres_as_millimetres():
    depth = np.array([[1.25, np.nan]], np.float32)
    assert depth_at_mm(depth, 0, 0) == 1250.0
    assert depth_at_mm(depth, 1, 0) is None and depth_at_mm(depth, 5, 0) is None


def test_frames_pair_colour_and_depth_by_stamp():
    frames = FramesByStamp()
    assert frames.newest() is None
    color_1, color_2 = np.full((2, 2, 3), 1, np.uint8), np.full((2, 2, 3), 2, np.uint8)
    frames.add('color', 1, color_1)
    frames.add('depth', 1, np.full((2, 2), 1.0, np.float32))
    frames.add('color', 2, color_2)
    # Colour 2 has no depth yet: show colour 1 with its own depth, not colour 2 with depth 1.
    stamp, color, depth = frames.newest()
    assert stamp == 1 and color is color_1 and depth[0, 0] == 1.0
    frames.add('depth', 2, np.full((2, 2), 2.0, np.float32))
    stamp, color, depth = frames.newest()
    assert stamp == 2 and color is color_2 and depth[0, 0] == 2.0
    for stamp in range(3, 20):  # only the last few are kept
        frames.add('depth', stamp, np.zeros((2, 2), np.float32))
    frames.add('color', 19, color_1)
    assert frames.newest()[0] == 19


def test_colour_range_is_read_from_the_depth_node_parameters(ros_session):
    ros_session.depth('range_test', min_depth_mm=500.0, max_depth_mm=2500.0)
    asker = ros_session.node('asker', 'range_test')
    ros_session.spin_in_background()
    wait_for(lambda: asker.get_publishers_info_by_topic('/range_test/depth/color'), 10.0,
             'the depth node publishing depth/color')
    assert colour_range_m(asker, '/range_test/depth/color') == (0.5, 2.5)
    assert colour_range_m(asker, '/range_test/nobody/publishes', 0.5) is None


def test_viewer_says_what_it_waits_for(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID='77')
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'view', '--namespace', 'nobody_here',
         '--snapshots', '--out', str(tmp_path), '--seconds', '8'],
        capture_output=True, text=True, timeout=60, env=env)
    waits = re.findall(r'waiting for /nobody_here/depth/color and /nobody_here/depth/image_rect '
                       r'on ROS_DOMAIN_ID=77 \(discovery LOCALHOST\), (\d+) s so far',
                       result.stdout)
    # Every WAIT_NOTE_PERIOD_S (3 s) while nothing arrives: at about 3 and 6 s of the 8.
    assert result.returncode == 0 and len(waits) == 2, result.stdout + result.stderr
    assert 3 <= int(waits[0]) < int(waits[1]) <= 8, waits


def test_headless_viewer_writes_snapshots_of_the_live_depth(tmp_path, ros_session):
    ros_session.camera('view_test', source='sample', scale=0.5, rate_hz=5.0)
    # sgbm_resolution full: the labels are checked against the scene's depths to 3 %, tighter
    # than the default half holds on every pixel of the 2.8 m wall.
    ros_session.depth('view_test', scale=1.0, min_depth_mm=500.0, max_depth_mm=3000.0,
                      sgbm_resolution='full')
    ros_session.spin_in_background()
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'view', '--namespace', 'view_test',
         '--snapshots', '--out', str(tmp_path), '--interval-s', '0.5', '--seconds', '8'],
        capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    snapshots = sorted(tmp_path.glob('depth_*.png'))
    assert snapshots, output
    picture = cv2.imread(str(snapshots[-1]))
    assert picture.shape == (650, 800 + 90, 3)  # the colour depth and its scale bar
    # The scale bar is labelled over the node's own range (0.5-3 m), read from its parameters.
    assert 'could not read min/max_depth_mm' not in output
    # The node paints the left border grey (colorize_depth): the legend names that grey too.
    np.testing.assert_array_equal(picture[:, 800:], depth_legend(650, 0.5, 3.0, left_border=True))
    # The image centre sees the moving box (1.0 m) or the back wall (2.8 m) of the sample scene,
    # or an edge between them: each label belongs to the depth image of its own pair.
    labels = re.findall(r'centre depth: ([\d.]+ mm|no depth)', output)
    assert len(labels) == len(snapshots), output
    centre_mm = [float(v.split()[0]) for v in labels if v != 'no depth']
    assert len(centre_mm) >= len(labels) // 2, labels
    assert all(abs(v - 1000) < 30 or abs(v - 2800) < 90 for v in centre_mm), centre_mm


def test_a_snapshot_the_viewer_cannot_write_is_an_error(tmp_path, ros_session):
    ros_session.camera('unwritable', source='sample', scale=0.5, rate_hz=5.0)
    ros_session.depth('unwritable', scale=1.0)
    ros_session.spin_in_background()
    (tmp_path / 'depth_0000.png').mkdir()  # OpenCV cannot write a file where a folder is
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.tools.cli', 'view', '--namespace', 'unwritable',
         '--snapshots', '--out', str(tmp_path), '--interval-s', '0.5', '--seconds', '20'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == \
        f'raiv-stereo view: error: cannot write {tmp_path / "depth_0000.png"}', result.stderr
    assert 'wrote' not in result.stdout, result.stdout
