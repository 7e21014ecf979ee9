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

"""The camera node's pure parts: set_camera_info rules and the exposure parameter binding."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from raiv_stereo.core.calibration import CalibrationError, raiv_nominal
from raiv_stereo.ros.camera_info_store import (
    calibration_paths,
    checked_model,
    next_start_note,
    ros_home,
    with_camera,
)
from raiv_stereo.ros.exposure_binding import CameraSetupError, ExposureBinding
from raiv_stereo.sources.exposure import ExposureControl, ExposureError, ExposureRanges

PUBLISHED = (800, 650)


# --- set_camera_info ---------------------------------------------------------------------------

def test_calibration_paths_are_the_yaml_pair_else_ros_home(monkeypatch, tmp_path):
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    assert ros_home() == tmp_path
    assert calibration_paths('a.yaml', 'b.yaml', 'raiv') == (Path('a.yaml'), Path('b.yaml'))
    assert calibration_paths('a.yaml', '', 'raiv') == (tmp_path / 'camera_info/raiv_left.yaml',
                                                       tmp_path / 'camera_info/raiv_right.yaml')


def test_checked_model_scales_to_the_published_size_and_refuses_what_cannot_be_right():
    full = raiv_nominal()
    model = checked_model(full.left, 'left', PUBLISHED)
    assert (model.width_px, model.height_px) == PUBLISHED
    assert model.K[0, 0] == pytest.approx(full.left.K[0, 0] / 2)
    with pytest.raises(CalibrationError, match='does not have the aspect ratio of the published '
                                               '800x650 images'):
        checked_model(full.left.scaled_to(800, 600), 'left', PUBLISHED)
    with pytest.raises(CalibrationError, match=r'right P\[0,3\] \(Tx\) is .* > 0'):
        flipped = full.right.scaled_to(*PUBLISHED)
        flipped.P[0, 3] = -flipped.P[0, 3]
        checked_model(flipped, 'right', PUBLISHED)
    unfocused = full.left.scaled_to(*PUBLISHED)
    unfocused.K[0, 0] = 0.0
    with pytest.raises(CalibrationError, match='positive focal lengths'):
        checked_model(unfocused, 'left', PUBLISHED)


def test_with_camera_keeps_an_inconsistent_pair_and_says_to_set_the_other(tmp_path):
    full = raiv_nominal()
    path = tmp_path / 'raiv_right.yaml'
    right = full.right.scaled_to(*PUBLISHED)
    same, note = with_camera(full, 1, right, path)
    assert note == '' and same.image_size == full.image_size
    assert same.baseline_m == pytest.approx(full.baseline_m)
    assert same.description == f'set_camera_info, stored in {path}'
    right.P[0, 3] = 0.0  # no baseline
    pair, note = with_camera(full, 1, right, path)
    assert 'the pair is not consistent yet' in note and 'set the other camera too' in note
    np.testing.assert_allclose(pair.right.P[0, 3], 0.0)


def test_next_start_note_says_how_the_stored_calibration_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    stored = tmp_path / 'camera_info' / 'raiv_left.yaml'
    assert 'calibration_file is set and takes precedence' in next_start_note(stored, 'c.yaml')
    assert 'pass left_calibration_file and right_calibration_file' in \
        next_start_note(stored, '')
    assert next_start_note(tmp_path / 'mine' / 'left.yaml', '') == ''


# --- exposure ----------------------------------------------------------------------------------

class Device(ExposureControl):
    """A camera control in memory: ranges 10..1000 and 1..16, refuses an exposure of 999."""

    def __init__(self):
        self.value = (100, 4)
        self.writes = []

    def ranges(self):
        return ExposureRanges(10, 1000, 1, 16)

    def read(self):
        return self.value

    def write(self, exposure, gain):
        if exposure == 999:
            raise ExposureError('set_cam_ctrl returned -3')
        self.value = (exposure, gain)
        self.writes.append(self.value)


def _bound(overrides=None, control=None, problem=''):
    source = SimpleNamespace(exposure_control=control, exposure_problem=problem)
    binding = ExposureBinding('raiv' if control else 'images', source)
    declared = {}

    def declare(spec):
        declared[spec.name] = spec
        return (overrides or {}).get(spec.name, spec.default)

    binding.declare(declare)
    return binding, declared


def test_the_device_gives_ranges_and_start_values_and_a_start_value_is_written():
    device = Device()
    binding, declared = _bound(control=device)
    assert declared['exposure'].default == 100 and declared['gain'].value_range.to_value == 16
    assert binding.exposure == (100, 4) and device.writes == []
    device = Device()
    binding, _ = _bound({'exposure': 300}, control=device)
    assert device.writes == [(300, 4)] and binding.exposure == (300, 4)
    with pytest.raises(CameraSetupError, match='exposure/gain at start: set_cam_ctrl returned'):
        _bound({'exposure': 999}, control=Device())


def test_without_a_control_only_the_defaults_are_accepted_and_changes_say_why():
    binding, _ = _bound(problem='libqCU not found')
    assert binding.problems({'exposure'}, {'auto_exposure': False}) == [
        "source 'images' has no exposure/gain control (libqCU not found)"]
    assert binding.problems({'rate_hz'}, {}) == []
    with pytest.raises(CameraSetupError, match='only the raiv source has one'):
        _bound({'gain': 3})


def test_changes_are_refused_under_auto_exposure_and_written_otherwise():
    device = Device()
    binding, _ = _bound(control=device)
    assert 'set auto_exposure false first' in \
        binding.problems({'gain'}, {'auto_exposure': True})[0]
    assert binding.problems({'gain'}, {'auto_exposure': False}) == []
    assert binding.write({'gain'}, {'exposure': 100, 'gain': 8}) == (100, 8)
    assert binding.write({'gain'}, {'exposure': 100, 'gain': 8}) is None  # unchanged
    with pytest.raises(ExposureError):
        binding.write({'exposure'}, {'exposure': 999, 'gain': 8})
    assert binding.exposure == (100, 8) and device.writes == [(100, 8)]


def test_auto_step_brightens_a_dark_image_once_per_period():
    device = Device()
    binding, _ = _bound({'auto_exposure': True}, control=device)
    assert binding.auto
    dark = np.full((4, 4), 32, np.uint8)
    wanted = binding.auto_step(dark)
    assert wanted is not None and wanted[0] > 100 and device.value == wanted
    assert binding.auto_step(dark) is None  # within AUTO_PERIOD_S
