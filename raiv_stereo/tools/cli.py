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

"""The `raiv-stereo` command: offline depth, range tables, the demo, the viewer and benchmarks."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path
import signal
import sys
import tempfile

# Subcommand modules; each has add_parsers(subparsers) registering `func(args) -> int`.
_COMMAND_MODULES = tuple(f'raiv_stereo.tools.{name}' for name in (
    'offline', 'demo', 'viewer', 'bench', 'check_calibration', 'picture'))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every default, except where there is none (None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ''
        return super()._get_help_string(action)


class CommandError(ValueError):
    """Options or an environment a command cannot work with; the message is its one error line."""


def output_folder(out: str | os.PathLike) -> Path:
    """Return `out` as an existing folder this process can write in, or raise CommandError."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CommandError(f'--out {out} is a file; give a folder for the outputs')
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f'cannot create the output folder {out}: '
                           f'{(error.strerror or str(error)).lower()}') from None
    try:  # the real test: permissions say little to root, a read-only mount or a full disk
        with tempfile.TemporaryFile(dir=out) as probe:
            probe.write(b'raiv-stereo')
            probe.flush()
    except OSError as error:
        raise CommandError(f'cannot write in the output folder {out}: '
                           f'{(error.strerror or str(error)).lower()}') from None
    return out


MAX_DOMAIN_ID = 232
"""The largest ROS_DOMAIN_ID the RMW layers accept (0..101 are safe on Linux)."""


def domain_id_from_env() -> int | None:
    """Return ROS_DOMAIN_ID as set by the user (None when unset), or raise CommandError."""
    text = os.environ.get('ROS_DOMAIN_ID', '').strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_DOMAIN_ID:
        raise CommandError(f'ROS_DOMAIN_ID={text!r} is not a domain id: give a whole number '
                           f'0..{MAX_DOMAIN_ID} (0..101 are safe on Linux), or unset it')
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog='raiv-stereo',
        description='Stereo depth for the RAiV camera or any calibrated stereo pair.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors print one line and return a non-zero exit code."""
    try:
        parser = build_parser()  # imports OpenCV, NumPy: a Ctrl-C may come meanwhile
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print('raiv-stereo: interrupted', file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    if not getattr(args, 'func', None):
        parser.print_help()
        return 2
    # Ctrl-C stops every command, even one started where SIGINT is ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: no traceback
        print(f'raiv-stereo {args.command}: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
