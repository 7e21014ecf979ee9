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

"""`raiv-stereo` on bad input, run as a user would: exit code 1 and one line saying why."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
import re
import signal
import subprocess
import sys

import cv2
from helpers import textured_pair
import numpy as np
import pytest
from raiv_stereo.core.depth import colorize_depth


CONFIG = Path(__file__).resolve().parents[1] / 'config'


def run(*argv: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'raiv_stereo.tools.cli', *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env=None if env is None else dict(os.environ, **env))


@pytest.fixture
def pair(tmp_path):
    """Write a textured 160x130 pair, right = left moved 8 px; a 1x1 pair; 16-bit copies."""
    left, right = textured_pair(130, 160, channels=1, shift_px=8, seed=3, cell_px=4)
    files = {'left.png': left, 'right.png': right, 'tiny_l.png': left[:1, :1],
             'tiny_r.png': right[:1, :1], 'left16.png': left.astype(np.uint16) * 256,
             'right16.png': right.astype(np.uint16) * 256}
    for name, image in files.items():
        cv2.imwrite(str(tmp_path / name), image)
    (tmp_path / 'garbage.yaml').write_text('garbage: [\n')
    (tmp_path / 'a_file').write_text('')
    return tmp_path


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr and proc.stderr.count('\n') == 1, proc.stderr
    return proc.stderr.strip()


def test_an_unparsable_calibration_file_is_one_line(pair):
    line = one_error_line(run('depth', str(pair / 'left.png'), str(pair / 'right.png'), '--out',
                              str(pair / 'o'), '--calibration', str(pair / 'garbage.yaml')))
    assert line.startswith('raiv-stereo depth: error: ') and \
        'garbage.yaml is not an OpenCV YAML/XML/JSON file (it does not parse)' in line


def test_images_too_small_for_the_search_window_say_so(pair):
    line = one_error_line(run('depth', str(pair / 'tiny_l.png'), str(pair / 'tiny_r.png'),
                              '--out', str(pair / 'o'), '--rectified', '--focal-px', '100'))
    # 300-3000 mm at f = 100 px, B = 65 mm: disparities 2..33 px, block 5: 39 px of width.
    assert 'the images are 1x1 px at the working scale, too small for the search window ' \
        '(2..33 px) and the 5 px block: matching needs at least 39 px of width' in line


@pytest.mark.parametrize('argv, message', [
    (['--focal-px', '0'], '--focal-px must be positive, got 0'),
    (['--focal-px', '100', '--out', 'a_file'],
     '--out a_file is a file; give a folder for the outputs'),
    (['--focal-px', '100', '--out', '/proc/raiv/out'],
     'cannot create the output folder /proc/raiv/out: no such file or directory'),
    (['--focal-px', '100', '--min-depth-mm', '5000', '--max-depth-mm', '1000'],
     'min_depth_mm (5000) must be below max_depth_mm (1000)'),
])
def test_depth_option_errors_are_one_line(pair, argv, message):
    if '--out' not in argv:
        argv = [*argv, '--out', 'o']
    line = one_error_line(run('depth', 'left.png', 'right.png', '--rectified', *argv, cwd=pair))
    assert line == f'raiv-stereo depth: error: {message}'


def test_range_rejects_an_inverted_range():
    line = one_error_line(run('range', '--min-depth-mm', '5000', '--max-depth-mm', '1000'))
    assert line == 'raiv-stereo range: error: min_depth_mm (5000) must be below ' \
        'max_depth_mm (1000)'


@pytest.mark.parametrize('argv, message', [
    (['--scale', '0'], 'scale is 0; allowed 0.25..1'),
    (['--min-depth-mm', '5000', '--max-depth-mm', '1000'],
     'min_depth_mm (5000) must be below max_depth_mm (1000)'),
    (['--focal-length-mm', '5'], 'focal_length_mm is 5; choose one of 2.8'),
    (['--seconds', '0'], 'seconds is 0; allowed 0.1..86400'),
])
def test_demo_option_errors_are_one_line_before_any_node_starts(tmp_path, argv, message):
    proc = run('demo', '--out', str(tmp_path / 'demo'), *argv)
    line = one_error_line(proc)
    assert line.startswith(f'raiv-stereo demo: error: {message}'), line
    assert proc.stdout == '' and not (tmp_path / 'demo').exists()


def test_rectified_input_keeps_its_size_and_16_bit_input_is_said_once(pair):
    proc = run('depth', 'left16.png', 'right16.png', '--out', 'o', '--rectified', '--focal-px',
               '100', cwd=pair)
    assert proc.returncode == 0, proc.stderr
    assert 'rectified input; 160x130 -> 160x130' in proc.stdout  # scale 1 with --rectified
    notes = [line for line in proc.stdout.splitlines() if line.startswith('note:')]
    assert notes == ['note: left16.png is 16-bit: matched as 8-bit (value / 256)',
                     'note: right16.png is 16-bit: matched as 8-bit (value / 256)']
    help_text = run('depth', '--help').stdout
    assert '(default: 300, or the' in help_text and '1 with --rectified' in help_text


def test_depth_color_follows_the_searched_range_and_carries_a_scale_bar(pair):
    # An explicit window 0..15 px at f = 100 px, B = 65 mm searches 0.433 m .. infinity.
    proc = run('depth', 'left.png', 'right.png', '--out', 'o', '--rectified', '--focal-px', '100',
               '--min-disparity', '0', '--num-disparities', '16', cwd=pair)
    assert proc.returncode == 0, proc.stderr
    colour = cv2.imread(str(pair / 'o' / 'depth_color.png'))
    assert colour.shape == (130, 160 + 90, 3)
    # The 8 px shift is 0.8125 m: its colour in the searched range 100*0.065/15 .. 100x that.
    near_m = 100 * 0.065 / 15
    expected = colorize_depth(np.full((1, 1), 0.8125, np.float32), near_m, 100 * near_m)[0, 0]
    centre = colour[40:90, 60:100].reshape(-1, 3)
    share = np.mean(np.all(np.abs(centre.astype(int) - expected) <= 12, axis=1))
    assert share > 0.8, (expected, np.median(centre, axis=0))
    default = colorize_depth(np.full((1, 1), 0.8125, np.float32), 0.3, 3.0)[0, 0]
    assert np.abs(default.astype(int) - expected).max() > 30  # not the 300-3000 mm colours


def test_depths_a_16_bit_png_cannot_hold_are_counted(pair):
    # f = 100000 px, B = 65 mm: every disparity of the 0..15 px window is >= 433 m away.
    proc = run('depth', 'left.png', 'right.png', '--out', 'o', '--rectified', '--focal-px',
               '100000', '--min-disparity', '0', '--num-disparities', '16',
               '--no-mask-out-of-range', cwd=pair)
    assert proc.returncode == 0, proc.stderr
    disparity = cv2.imread(str(pair / 'o' / 'disparity.pfm'), cv2.IMREAD_UNCHANGED)
    matched = int(np.count_nonzero(np.isfinite(disparity) & (disparity > 0)))
    assert matched > 1000
    assert f'note: {matched} pixels deeper than 65.535 m are 0 in depth_mm.png (16-bit ' \
        'millimetres); disparity.pfm has them' in proc.stdout
    assert not cv2.imread(str(pair / 'o' / 'depth_mm.png'), cv2.IMREAD_UNCHANGED).any()


@pytest.mark.slow
@pytest.mark.parametrize('argv, started, stopped', [
    (['view', '--snapshots', '--namespace', 'nobody_here'], 'no display: writing',
     'interrupted; 0 snapshots written'),
    (['bench', '--quick', '--no-ros'], '1. speed', 'INTERRUPTED (Ctrl-C)'),
])
def test_ctrl_c_stops_a_command_with_exit_130(tmp_path, argv, started, stopped):
    command = subprocess.Popen([sys.executable, '-m', 'raiv_stereo.tools.cli', *argv, '--out',
                                str(tmp_path / 'out')], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        for line in command.stdout:
            if started in line:
                break
        command.send_signal(signal.SIGINT)
        output, _ = command.communicate(timeout=20)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 130 and stopped in output, output
    assert 'Traceback' not in output, output


def test_one_camera_info_file_alone_is_one_line_in_the_cli_and_the_camera_node(pair):
    example = str(CONFIG / 'example_left.yaml')
    line = one_error_line(run('depth', 'left.png', 'right.png', '--out', 'o', '--calibration',
                              example, cwd=pair))
    reason = f"{example} is one camera's camera_info YAML, not a stereo calibration: give it " \
        "together with the other camera's file as a left/right pair"
    assert line.startswith(f'raiv-stereo depth: error: {reason}'), line
    node = subprocess.run([sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args',
                           '-p', f'calibration_file:={example}'],
                          capture_output=True, text=True, timeout=60)
    assert node.returncode == 1 and 'Traceback' not in node.stderr, node.stderr
    assert f'[camera_node]: {reason}' in node.stderr, node.stderr


@pytest.mark.parametrize('argv, message', [
    (['--rectified', '--focal-px', '100', '--calibration', 'a.yaml', 'b.yaml'],
     '--rectified and --calibration contradict each other'),
    (['--focal-px', '100'], '--focal-px describes already rectified inputs: add --rectified'),
    (['--calibration', 'a.yaml', 'b.yaml', '--focal-length-mm', '4'],
     '--focal-length-mm cannot be used with --calibration: the calibration file sets the focal '
     'length and baseline'),
    (['--rectified', '--focal-px', '100', '--focal-length-mm', '4'],
     '--focal-length-mm cannot be used with --rectified'),
    (['--rectified', '--focal-px', '100', '--max-depth-mm', '2000', '--min-disparity', '0',
      '--num-disparities', '16'],
     '--max-depth-mm and --min-disparity and --num-disparities contradict each other'),
])
def test_options_that_contradict_each_other_are_one_line(pair, argv, message):
    line = one_error_line(run('depth', 'left.png', 'right.png', '--out', 'o', *argv, cwd=pair))
    assert line.startswith(f'raiv-stereo depth: error: {message}'), line


def test_one_image_twice_and_a_swapped_pair_are_refused(pair):
    line = one_error_line(run('depth', 'left.png', 'left.png', '--out', 'o', '--rectified',
                              '--focal-px', '100', cwd=pair))
    assert line == 'raiv-stereo depth: error: left.png and left.png are the same image (they ' \
        'differ by 0.00 grey levels on average): a stereo pair needs one image from each camera'
    line = one_error_line(run('depth', 'right.png', 'left.png', '--out', 'o', '--rectified',
                              '--focal-px', '100', cwd=pair))
    assert line.startswith('raiv-stereo depth: error: left and right look swapped') and \
        line.endswith("give the left camera's image first (left.png right.png)"), line
    assert not (pair / 'o' / 'depth_mm.png').exists()
    # A re-encoded copy is not bit-identical: matched, it has no disparity anywhere.
    left = cv2.imread(str(pair / 'left.png'), cv2.IMREAD_GRAYSCALE)
    noise = np.random.default_rng(1).integers(-3, 4, left.shape)
    cv2.imwrite(str(pair / 'copy.png'), np.clip(left + noise, 0, 255).astype(np.uint8))
    proc = run('depth', 'left.png', 'copy.png', '--out', 'o', '--rectified', '--focal-px', '100',
               '--min-disparity', '0', '--num-disparities', '16', cwd=pair)
    assert re.search(r'WARNING: \d+ % of the matched pixels have no disparity \(\|d\| <= 0.5 '
                     r'px\): are left.png and copy.png copies of one image\?', proc.stdout), \
        proc.stdout


def test_a_scene_beyond_the_depth_range_is_warned_with_a_range_that_fits(tmp_path):
    # f = 500 px, B = 65 mm: 300-3000 mm searches 10..117 px; the scene is at 4 px = 8125 mm.
    left, right = textured_pair(200, 480, channels=1, shift_px=4, seed=5, cell_px=3)
    cv2.imwrite(str(tmp_path / 'l.png'), left)
    cv2.imwrite(str(tmp_path / 'r.png'), right)
    proc = run('depth', 'l.png', 'r.png', '--out', 'o', '--rectified', '--focal-px', '500',
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warning = re.search(r'WARNING: (\d+) % of the scene is farther than the depth range '
                        r'.* try --min-depth-mm (\d+) --max-depth-mm (\d+)', proc.stdout)
    assert warning and int(warning.group(1)) > 90, proc.stdout
    near_mm, far_mm = int(warning.group(2)), int(warning.group(3))
    assert near_mm < 8125 < far_mm, proc.stdout
    proc = run('depth', 'l.png', 'r.png', '--out', 'o', '--rectified', '--focal-px', '500',
               '--min-depth-mm', str(near_mm), '--max-depth-mm', str(far_mm), cwd=tmp_path)
    assert proc.returncode == 0 and 'WARNING' not in proc.stdout, proc.stdout
    depth_mm = cv2.imread(str(tmp_path / 'o' / 'depth_mm.png'), cv2.IMREAD_UNCHANGED)
    assert abs(np.median(depth_mm[depth_mm > 0]) - 8125) < 50


def test_a_grey_left_with_a_colour_right_is_matched_as_grey(pair):
    colour = cv2.cvtColor(cv2.imread(str(pair / 'right.png'), cv2.IMREAD_GRAYSCALE),
                          cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(pair / 'right_bgr.png'), colour)
    proc = run('depth', 'left.png', 'right_bgr.png', '--out', 'o', '--rectified', '--focal-px',
               '100', cwd=pair)
    assert proc.returncode == 0, proc.stderr
    assert 'note: left.png has 1 channel(s), right_bgr.png 3: both matched as grey' in proc.stdout
    depth_mm = cv2.imread(str(pair / 'o' / 'depth_mm.png'), cv2.IMREAD_UNCHANGED)
    assert abs(np.median(depth_mm[depth_mm > 0]) - 812.5) < 5  # f·B/d = 100 * 65 / 8


def test_range_takes_the_lens_preset_and_says_when_the_window_is_wider_than_the_image():
    preset = run('range', '--focal-length-mm', '25')
    assert preset.returncode == 0 and 'depth range 2680-26790 mm' in preset.stdout, preset.stdout
    assert 'WARNING' not in preset.stdout
    wide = run('range', '--focal-length-mm', '25', '--min-depth-mm', '300', '--max-depth-mm',
               '3000')
    assert 'WARNING: the 300-3000 mm range searches disparities 90..905 px, wider than the ' \
        '800 px image at scale 0.5 (matching needs 911 px): with the 25 mm lens use ' \
        '--min-depth-mm 2680 --max-depth-mm 26790' in wide.stdout, wide.stdout


@pytest.mark.parametrize('argv, env, message', [
    (['--namespace', 'my cam'], {},
     "--namespace 'my cam' is not a ROS namespace: namespace must not contain characters other "
     "than alphanumerics, '_', or '/'"),
    ([], {'ROS_DOMAIN_ID': 'abc'},
     "ROS_DOMAIN_ID='abc' is not a domain id: give a whole number 0..232"),
])
@pytest.mark.parametrize('command', ['demo', 'view', 'bench'])
def test_a_bad_namespace_or_domain_id_is_one_line(tmp_path, command, argv, env, message):
    if command == 'bench' and argv:
        pytest.skip('bench has no --namespace')
    extra = {'view': ['--snapshots', '--seconds', '1'], 'bench': ['--quick']}.get(command, [])
    proc = run(command, '--out', str(tmp_path / 'out'), *extra, *argv, env=env)
    assert one_error_line(proc).startswith(f'raiv-stereo {command}: error: {message}')
    assert not (tmp_path / 'out').exists()


def test_demo_refuses_a_range_whose_window_is_wider_than_the_image(tmp_path):
    line = one_error_line(run('demo', '--out', str(tmp_path / 'demo'), '--focal-length-mm', '25',
                              '--min-depth-mm', '300', '--max-depth-mm', '3000'))
    assert line == 'raiv-stereo demo: error: the 300-3000 mm range searches disparities ' \
        '90..905 px, wider than the 800 px image at scale 0.5 (matching needs 911 px): with the ' \
        '25 mm lens use --min-depth-mm 2680 --max-depth-mm 26790 (config/lens_25mm.yaml at ' \
        'scale 0.5)'


@pytest.mark.parametrize('command', ['demo', 'view', 'bench'])
def test_an_output_folder_that_cannot_be_made_is_one_line_before_any_work(pair, command):
    extra = {'view': ['--snapshots'], 'bench': ['--quick', '--no-ros']}.get(command, [])
    for out, reason in (('a_file', '--out a_file is a file; give a folder for the outputs'),
                        ('/proc/raiv/out', 'cannot create the output folder /proc/raiv/out: no '
                         'such file or directory')):
        proc = run(command, '--out', out, *extra, cwd=pair)
        assert one_error_line(proc) == f'raiv-stereo {command}: error: {reason}'
        assert proc.stdout == ''


def test_two_demos_do_not_share_an_output_folder(tmp_path):
    out = tmp_path / 'shared'
    out.mkdir()
    with open(out / '.raiv-stereo-demo.lock', 'a+') as lock:  # as a running demo holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write('4242')
        lock.flush()
        line = one_error_line(run('demo', '--out', str(out)))
    assert line == f'raiv-stereo demo: error: --out {out} is in use by another demo (pid 4242); ' \
        'give another --out'


@pytest.mark.slow
def test_a_demo_refuses_a_namespace_another_uses_in_its_domain(tmp_path, ros_session):
    from std_msgs.msg import String

    other = ros_session.node('other_demo', 'busy_ns')
    other.create_publisher(String, 'depth/image_rect', 1)
    viewer = ros_session.node('viewer', 'free_ns')  # a viewer waiting there only subscribes
    viewer.create_subscription(String, 'depth/image_rect', lambda msg: None, 1)
    ros_session.spin_in_background()
    proc = run('demo', '--out', str(tmp_path / 'demo'), '--namespace', 'free_ns', '--seconds',
               '1')
    domain = os.environ['ROS_DOMAIN_ID']
    # It runs (whether a loaded machine gives it a depth frame within 1 s is not this test's).
    assert proc.stdout.startswith(f'ROS_DOMAIN_ID={domain}, DDS discovery LOCALHOST; running 1 s')
    assert 'ROS_DOMAIN_ID' not in proc.stderr and 'Traceback' not in proc.stderr, proc.stderr
    proc = run('demo', '--out', str(tmp_path / 'demo'), '--namespace', 'busy_ns')
    assert one_error_line(proc).startswith(
        f'raiv-stereo demo: error: ROS_DOMAIN_ID={domain} already has publishers on '
        '/busy_ns/depth/image_rect: another demo or camera uses --namespace busy_ns')
