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

"""Spin executors: nodes until Ctrl-C (every executable's `main`), or one in a thread."""

from __future__ import annotations

from collections.abc import Callable
import threading

from raiv_stereo.core.calibration import CalibrationError
from raiv_stereo.ros import signals
from raiv_stereo.sources import SourceError
import rclpy
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SETUP_ERRORS = (SourceError, CalibrationError, ParameterException, ValueError)
"""What a node's constructor raises for unusable parameters, files or devices (exit code 1)."""
SPIN_TIMEOUT_S = 0.1
"""Longest wait in the executor before the stop request is looked at again."""


def run_nodes(factories: list[Callable[[], Node]], name: str,
              args: list[str] | None = None, events_executor: bool = False) -> int:
    """
    Build the nodes in order and spin them on one executor thread; return the exit code.

    One thread: rclpy's multi-threaded executor starves the depth node's worker of the GIL
    (doc/benchmarks.md). events_executor: rclpy's EventsExecutor where rclpy has it (see
    `_executor`). A setup error is logged under `name`, exit code 1.
    SIGINT/SIGTERM, any number at any moment, end it with 0: they only set a flag
    (raiv_stereo.ros.signals), rclpy installs no handler of its own, and the nodes are destroyed
    before the context is shut down (no log to a dead /rosout, no publisher of a dead context).
    """
    stop = signals.install()
    if stop.is_set():
        return 0
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    nodes: list[Node] = []
    executor = _executor(events_executor)
    try:
        try:
            for factory in factories:
                if stop.is_set():
                    return 0
                nodes.append(factory())
                executor.add_node(nodes[-1])
        except SETUP_ERRORS as error:
            get_logger(name).error(str(error))
            return 1
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
    except ExternalShutdownException:
        pass
    finally:
        stop.request()
        signals.ignore()
        for node in reversed(nodes):
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown(timeout_sec=0)
        rclpy.try_shutdown()
    return 0


def _executor(events: bool):
    """
    Return rclpy's EventsExecutor when asked and available, else a SingleThreadedExecutor.

    The EventsExecutor (experimental, in C++; rclpy from Kilted on) does not rebuild its wait
    set in Python on every wake-up as the SingleThreadedExecutor does (the camera process's
    figures in doc/benchmarks.md).
    """
    if events:
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:  # an rclpy without it (before Kilted)
            pass
        else:
            return EventsExecutor()
    return SingleThreadedExecutor()


class BackgroundSpinner:
    """
    Spin an executor in a daemon thread until stop(), which returns once the thread has ended.

    Executor.shutdown() from another thread destroys the guard condition a spinning thread may
    be waiting on (InvalidHandle in that thread); here the thread ends first, then shutdown().
    """

    def __init__(self, executor: Executor, context: Context | None = None) -> None:
        self.executor = executor
        self._context = context
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._spin, name='spinner', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running.is_set() and rclpy.ok(context=self._context):
            try:
                self.executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
            except ExternalShutdownException:
                return

    def stop(self) -> None:
        """End the spinning thread, then shut the executor down (no node is destroyed)."""
        self._running.clear()
        self._thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=0)
