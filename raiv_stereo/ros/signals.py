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
Ctrl-C and SIGTERM as a request to stop: a flag, never an exception (no ROS import here).

`ros2 launch` and a terminal send SIGINT to the whole process group and launch forwards another
one, then SIGTERM. An exception raised by each would land anywhere: in a node's constructor,
inside destroy_node or a thread join. Here every signal only sets one event; the code that
spins checks it and shuts down once, in order. From the first signal on they are ignored: Python
restores the default action (death by SIGINT, exit -2) for its own handlers while it finalizes.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by SIGINT or SIGTERM (any number of them); `signals` counts them."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signals = 0

    def __call__(self, signum: int, frame: object) -> None:
        """Signal handler: remember the request, nothing else (safe at any moment)."""
        del signum, frame
        self.signals += 1
        self.event.set()
        ignore()

    def is_set(self) -> bool:
        """Return True once a stop was asked for."""
        return self.event.is_set()

    def request(self) -> None:
        """Ask to stop (as a signal would)."""
        self.event.set()


_installed: StopRequest | None = None


def install() -> StopRequest:
    """Make SIGINT and SIGTERM set the returned StopRequest (once per process; main thread)."""
    global _installed
    if _installed is None:
        request = StopRequest()
        for number in STOP_SIGNALS:
            signal.signal(number, request)
        _installed = request
    return _installed


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on (shutting down; kept while Python finalizes)."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
