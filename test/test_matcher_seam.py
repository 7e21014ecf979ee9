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

"""StereoPipeline through the Matcher seam: a matcher that knows the scene gives its true depth."""

import numpy as np
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.core.matching.sgbm import MatcherSettings, StereoMatcher
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.scene import Renderer, sample_scene, truth_depth_m

SCALE = 0.25


class TruthMatcher:
    """Returns the true disparity f·B/Z of the sample scene, whatever the images say."""

    built: list = []

    def __init__(self, settings: MatcherSettings, focal_px: float, baseline_mm: float) -> None:
        self.settings, self.focal_px, self.baseline_mm = settings, focal_px, baseline_mm
        self.min_disparity, self.max_disparity = 0, 255
        self.shapes: list = []
        TruthMatcher.built.append(self)

    def match(self, left_rect, right_rect):
        self.shapes.append((left_rect.shape, right_rect.shape, left_rect.dtype))
        working = raiv_nominal().scaled(SCALE)
        depth_mm = truth_depth_m(working, sample_scene(), 0.0) * 1000.0
        disparity = (self.focal_px * self.baseline_mm / depth_mm).astype(np.float32)
        return disparity, np.isfinite(disparity).astype(np.float32)

    def valid_window(self, width_px, height_px):
        return 0, 0, width_px, height_px


def test_pipeline_depth_comes_from_the_plugged_matcher():
    TruthMatcher.built.clear()
    calibration = raiv_nominal()
    pair = Renderer(calibration, sample_scene()).render(0.0, with_truth=False)
    pipeline = StereoPipeline(calibration, SCALE, MatcherSettings(), matcher_factory=TruthMatcher)
    result = pipeline.process(pair.left_bgr, pair.right_bgr)
    truth_m = truth_depth_m(pipeline.working, sample_scene(), 0.0)

    matcher = pipeline.matcher
    assert isinstance(matcher, TruthMatcher) and len(TruthMatcher.built) == 1
    assert matcher.focal_px == pipeline.working.focal_px
    assert matcher.baseline_mm == pipeline.working.baseline_mm
    width_px, height_px = pipeline.working.image_size
    assert matcher.shapes == [((height_px, width_px), (height_px, width_px), np.uint8)]
    finite = np.isfinite(truth_m)
    assert finite.mean() > 0.5
    assert np.array_equal(np.isfinite(result.depth_m), finite)
    np.testing.assert_allclose(result.depth_m[finite], truth_m[finite], rtol=1e-4)

    # A settings change builds the next matcher through the same factory.
    pipeline.reconfigure(settings=MatcherSettings(block_size=7))
    assert len(TruthMatcher.built) == 2 and pipeline.matcher.settings.block_size == 7


def test_default_matcher_is_sgbm():
    pipeline = StereoPipeline(raiv_nominal(), SCALE)
    assert isinstance(pipeline.matcher, StereoMatcher)
