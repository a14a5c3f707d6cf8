"""The README's runnable example stays true: it imports from the front door and runs."""

import re

from tests._helpers import REPO


def test_the_five_line_example_runs(capsys):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Labeling functions in five lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert code.startswith("from workbench import ")  # the front door, not private modules
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.startswith("Auto chose ")  # the health check says which label model and why
