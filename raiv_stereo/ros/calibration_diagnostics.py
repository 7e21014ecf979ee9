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

"""The depth node's calibration health check as plumbing: parameters in, DiagnosticStatus out."""

from __future__ import annotations

from typing import Any, Mapping

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from raiv_stereo.core.calibration_health import CalibrationMonitor, ERROR, OK, WARN

STATUS_NAME = 'raiv_stereo: calibration'
_LEVELS = {OK: DiagnosticStatus.OK, WARN: DiagnosticStatus.WARN, ERROR: DiagnosticStatus.ERROR}


def observe_calibration(monitor: CalibrationMonitor, pipeline: Any, result: Any,
                        values: Mapping[str, Any]) -> str | None:
    """Apply the current parameters to the monitor, check when due; return a line to log."""
    monitor.period_s = float(values['calibration_check_period_s'])
    monitor.correct = bool(values['calibration_correction'])
    return monitor.observe(pipeline, result)


def calibration_statuses(monitor: CalibrationMonitor, hardware_id: str) -> list[DiagnosticStatus]:
    """Return the last check as a DiagnosticStatus (none when the check is off or not yet run)."""
    report = monitor.last
    if monitor.period_s <= 0 or report is None:
        return []
    values = dict(report.values())
    values['online correction'] = 'on' if monitor.correct else 'off'
    if monitor.applied is not None:
        values['correction shift px'] = f'{monitor.applied.shift_px:.3f}'
        values['correction roll deg'] = f'{monitor.applied.roll_deg:.4f}'
    return [DiagnosticStatus(level=_LEVELS[report.level], name=STATUS_NAME,
                             message=report.message, hardware_id=hardware_id,
                             values=[KeyValue(key=k, value=v) for k, v in values.items()])]
