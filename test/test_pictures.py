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

"""Pictures that read at a glance: colours, the scale bar, the README picture, bench plots."""

from pathlib import Path

import cv2
import numpy as np
from raiv_stereo.core.depth import colorize_depth, depth_legend, LEFT_BORDER_BGR, legend_bar_rows
from raiv_stereo.tools import cli
from raiv_stereo.tools.bench import report as bench

README = Path(__file__).resolve().parents[1] / 'README.md'


def _plasma(index: int) -> np.ndarray:
    return cv2.applyColorMap(np.uint8([[index]]), cv2.COLORMAP_PLASMA)[0, 0]


def test_colour_follows_inverse_depth_and_names_what_has_none():
    # Halfway in inverse depth between 0.3 and 3 m is 0.545 m: the middle of the map.
    depth = np.array([[0.3, 2 / (1 / 0.3 + 1 / 3.0), 3.0, np.nan, np.nan]], np.float32)
    colour = colorize_depth(depth, 0.3, 3.0, left_border_px=4)
    np.testing.assert_array_equal(colour[0, 0], _plasma(255))
    np.testing.assert_allclose(colour[0, 1], _plasma(128), atol=3)
    np.testing.assert_array_equal(colour[0, 2], _plasma(0))
    assert colour[0, 3].tolist() == list(LEFT_BORDER_BGR)  # no depth, left border
    assert colour[0, 4].tolist() == [0, 0, 0]  # no depth elsewhere
    assert max(_plasma(0)) > 100  # the far end is not black
    # A 5-30 m scene over its range: 10 m and 20 m are far apart on the map.
    far = colorize_depth(np.array([[10.0, 20.0]], np.float32), 5.0, 30.0)
    assert np.abs(far[0, 0].astype(int) - far[0, 1]).max() > 80


def _dark(image: np.ndarray) -> np.ndarray:
    return image.max(axis=2) < 120


def test_scale_bar_labels_both_ends_inside_and_names_black_and_grey():
    height = 325
    legend = depth_legend(height, 0.3, 3.0, left_border=True)
    top, bottom = legend_bar_rows(height)
    labels = _dark(legend[:, 30:])
    assert labels[top - 6:top + 6].any() and labels[bottom - 7:bottom + 5].any()
    assert not labels[0].any() and not labels[-1].any()  # nothing cut at the edges
    assert not labels[:, -1].any()  # nor at the right edge
    swatches = legend[bottom:, 4:18].reshape(-1, 3).tolist()
    assert [0, 0, 0] in swatches and list(LEFT_BORDER_BGR) in swatches
    # Near at the top, far at the bottom, in the picture's colours.
    np.testing.assert_array_equal(legend[top, 10], _plasma(255))
    np.testing.assert_array_equal(legend[bottom - 1, 10], _plasma(0))


def test_picture_command_writes_the_readme_picture(tmp_path, capsys):
    out = tmp_path / 'picture.png'
    assert cli.main(['picture', '--out', str(out), '--height', '200']) == 0
    picture = cv2.imread(str(out))
    assert picture.shape[0] == 200 and picture.shape[1] == 2 * 246 + 90
    depth_part = picture[:, 246:2 * 246]
    assert (depth_part == LEFT_BORDER_BGR[0]).all(axis=2)[:, :30].any()  # the border, grey
    text = README.read_text()
    assert '(resource/demo_side_by_side.jpg)' in text and '`raiv-stereo picture`' in text
    assert cli.main(['picture', '--out', str(tmp_path / 'no' / 'x.png')]) == 1
    assert 'no folder' in capsys.readouterr().err


def _rows(with_bad2: bool) -> list[dict]:
    return [{'config': f'config {i}', 'kind': 'opencv' if i == 0 else 'ours', 'ms': 10.0 + 5 * i,
             'mean_bad2': (20.0 - i) if with_bad2 else float('nan'),
             'within_1pct': 0.5 + 0.1 * i} for i in range(3)]


def test_pareto_plot_has_no_empty_panel(tmp_path):
    for with_bad2, panels in ((True, 2), (False, 1)):
        path = tmp_path / f'pareto_{with_bad2}.png'
        bench.pareto_plot(path, _rows(with_bad2))
        image = cv2.imread(str(path))
        assert image.shape[1] == 560 * panels
        for panel in range(panels):
            plot = image[40:500, panel * 560:(panel + 1) * 560]
            coloured = (plot.max(axis=2).astype(int) - plot.min(axis=2)) > 60
            assert coloured.sum() > 100  # each panel has its points


def test_line_plot_legend_is_below_the_lines(tmp_path):
    path = tmp_path / 'lines.png'
    series = {'first': ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
              'second': ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])}
    bench.line_plot(path, 'title', 'x', 'y', series)
    image = cv2.imread(str(path))
    assert image.shape[0] == 520 + 20 * len(series) + 10
    legend = image[520:]  # a strip of its own under the axes, one entry per series
    for index in range(len(series)):
        colour = np.array(bench._COLOURS[index])
        assert (np.abs(legend.astype(int) - colour).max(axis=2) < 30).sum() > 50
