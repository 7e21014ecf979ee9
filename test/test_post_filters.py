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

"""Post-filters: the spatial fill keeps depth edges, the temporal filter smooths static noise."""

import numpy as np
import pytest
from raiv_stereo.core import post_filters
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.core.matching.sgbm import CONFIDENCE_FILLED, CONFIDENCE_MATCHED
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.core.post_filters import PostFilterSettings, spatial_fill, TemporalFilter
from raiv_stereo.eval.metrics import DepthAccuracy
from raiv_stereo.eval.scene import Renderer, sample_scene, truth_depth_m
from raiv_stereo.params import depth as depth_params


def test_spatial_fill_closes_holes_inside_a_surface_not_beside_an_edge():
    row = np.array([[20.0, 20.2, np.nan, np.nan, 20.8, 21.0,      # hole inside a surface
                     21.0, np.nan, np.nan, np.nan, 40.0, 40.0,    # occlusion: 21 px | 40 px
                     40.0] + [np.nan] * 6 + [40.0]], np.float32)  # hole wider than the limit
    filled, mask = spatial_fill(row, 4)
    np.testing.assert_allclose(filled[0, 2:4], [20.4, 20.6], atol=1e-5)
    assert np.isnan(filled[0, 7:10]).all() and np.isnan(filled[0, 13:19]).all()
    assert mask[0].tolist() == [False] * 2 + [True] * 2 + [False] * 16
    # Columns too, and nothing when off.
    column = row[:, :6].T.copy()
    assert np.isfinite(spatial_fill(column, 4)[0]).all()
    assert np.isnan(spatial_fill(row, 0)[0][0, 2])


def test_temporal_filter_smooths_keeps_and_follows():
    rng = np.random.default_rng(0)
    smoothing = TemporalFilter(0.3)
    truth = np.full((20, 20), 30.0, np.float32)
    raw_error, filtered_error = [], []
    for _ in range(30):
        frame = truth + rng.normal(0.0, 0.2, truth.shape).astype(np.float32)
        out, kept = smoothing.apply(frame)
        raw_error.append(np.abs(frame - truth).mean())
        filtered_error.append(np.abs(out - truth).mean())
        assert not kept.any()
    assert np.mean(filtered_error[10:]) < 0.6 * np.mean(raw_error[10:])
    # A jump beyond 1 px (an edge moved) is taken at once.
    out, _ = smoothing.apply(truth + 5.0)
    np.testing.assert_allclose(out, truth + 5.0)
    # A pixel without depth keeps its value for two frames, then has none.
    gap = truth + 5.0
    gap[0, 0] = np.nan
    assert [smoothing.apply(gap)[1][0, 0] for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError):
        TemporalFilter(0.0)


def test_post_filters_mark_what_they_add_and_run_in_the_pipeline():
    filters = post_filters.PostFilters(PostFilterSettings(spatial_fill_px=4))
    disparity = np.array([[20.0, np.nan, 20.0]], np.float32)
    confidence = np.array([[1.0, 0.0, 1.0]], np.float32)
    out, conf = filters.apply(disparity, confidence)
    assert out[0, 1] == pytest.approx(20.0)
    assert conf.tolist() == [[CONFIDENCE_MATCHED, CONFIDENCE_FILLED, CONFIDENCE_MATCHED]]

    calibration = raiv_nominal().scaled(0.25)
    pair = Renderer(calibration).render(with_truth=False)
    pipeline = StereoPipeline(calibration, 1.0)
    post_filters.configure(pipeline, PostFilterSettings(temporal_alpha=0.5, spatial_fill_px=8))
    active = pipeline.post_filters
    result = pipeline.process(pair.left_bgr, pair.right_bgr)
    assert 'post_filters' in result.timings_ms
    np.testing.assert_allclose(result.depth_m, pipeline.working.focal_px
                               * pipeline.working.baseline_m / result.disparity_px, rtol=1e-5)
    post_filters.configure(pipeline, PostFilterSettings(temporal_alpha=0.5, spatial_fill_px=8))
    assert pipeline.post_filters is active  # unchanged settings keep the history
    post_filters.configure(pipeline, post_filters.settings_from({}))
    assert pipeline.post_filters is None
    assert depth_params.depth_settings_problems({'spatial_fill_px': 65})
    assert depth_params.depth_settings_problems({'temporal_filter_alpha': 1.5})


def test_temporal_filter_is_more_accurate_on_a_noisy_static_scene():
    calibration = raiv_nominal().scaled(0.5)
    base = Renderer(calibration).render(with_truth=False)
    rng = np.random.default_rng(1)
    frames = [tuple(np.clip(image + rng.normal(0.0, 3.0, image.shape), 0, 255).astype(np.uint8)
                    for image in (base.left_bgr, base.right_bgr)) for _ in range(5)]
    plain, smoothed = StereoPipeline(calibration, 0.5), StereoPipeline(calibration, 0.5)
    post_filters.configure(smoothed, PostFilterSettings(temporal_alpha=0.4))
    for left, right in frames:
        a, b = plain.process(left, right), smoothed.process(left, right)
    window = plain.matcher.valid_window(*plain.working.image_size)
    truth = truth_depth_m(plain.working, sample_scene())
    before = DepthAccuracy.measure(a.depth_m, truth, 0.3, 3.0, window)
    after = DepthAccuracy.measure(b.depth_m, truth, 0.3, 3.0, window)
    assert after.within_1pct > before.within_1pct + 0.01
    assert after.completeness >= before.completeness - 0.001
