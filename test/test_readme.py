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
The README's tables are generated from the code: this test fails when they drift.

Regenerate with `python test/test_readme.py`.
"""

import importlib
from pathlib import Path
import re
import sys

README = Path(__file__).resolve().parents[1] / 'README.md'


def _range_output() -> str:
    from raiv_stereo.tools.offline import range_report
    return '```text\n' + range_report(2.8, 65.0, 3.0, 0.5, 300.0, 3000.0) + '\n```\n'


def _table(module_name: str, function: str):
    return lambda: getattr(importlib.import_module(module_name), function)()


GENERATED = {
    'range-output': _range_output,
    'launch-arguments': _table('raiv_stereo.params.launch', 'launch_arguments_markdown'),
    'camera-parameters': _table('raiv_stereo.params.camera', 'parameter_table_markdown'),
    'depth-parameters': _table('raiv_stereo.params.depth', 'parameter_table_markdown'),
}


def _block(name: str) -> re.Pattern:
    return re.compile(rf'(<!-- generated:{name} -->\n)(.*?)(<!-- end:{name} -->)', re.S)


def test_readme_tables_match_the_code():
    text = README.read_text()
    for name, generate in GENERATED.items():
        match = _block(name).search(text)
        assert match, f'README.md lacks the generated:{name} block'
        assert match.group(2) == generate(), \
            f'README.md {name} is out of date: run `python test/test_readme.py`'


def test_readme_has_both_fresh_machine_commands():
    text = README.read_text()
    for marker in ('main-command', 'test-command'):
        block = re.search(rf'<!-- {marker} -->\n```bash\n(.+?)\n```', text, re.S)
        assert block and block.group(1).count('\n') == 0, f'{marker}: one copy-paste line'
        assert block.group(1).startswith('python3 -m venv .venv && ')


def test_readme_and_doc_links_resolve():
    docs = [README, *sorted((README.parent / 'doc').glob('*.md'))]
    assert len(docs) > 1, 'doc/ pages are missing'
    for page in docs:
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', page.read_text()):
            if '://' in target:
                continue
            assert (page.parent / target).exists(), f'{page.name} links to missing {target}'


if __name__ == '__main__':
    sys.path.insert(0, str(README.parent))
    text = README.read_text()
    for name, generate in GENERATED.items():
        text, count = _block(name).subn(
            lambda m, g=generate: m.group(1) + g() + m.group(3), text)
        print(f'{name}: {"updated" if count else "no block in README.md"}')
    README.write_text(text)
