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

import signal
import subprocess
import sys

import cv2
from helpers import textured_pair
import numpy as np
import pytest
from raiv_stereo.depth import colorize_depth


def run(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'raiv_stereo.cli', *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


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
    assert '(default: 300.0)' in help_text and '1 with --rectified' in help_text


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
    command = subprocess.Popen([sys.executable, '-m', 'raiv_stereo.cli', *argv, '--out',
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
