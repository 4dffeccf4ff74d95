"""Every option that README.md, the manual (docs/*.md) and ``--help`` show is one the code
accepts: each ``--set section.key=value`` resolves for at least one model, each ``--preset``
exists, each ``python -m training.fit`` line parses (a wrong example, ``model.hidden_size``,
once shipped), every link between the documents leads to a file, and the worked example of
docs/extending.md runs."""
import glob
import os
import re
import shlex

import pytest

from tests.conftest import ROOT
from training import config as cfg
from training import fit, tasks

DOCUMENTS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs",
                                                                            "*.md")))
README = "\n".join(open(path).read() for path in DOCUMENTS)
HELP = fit.build_parser().format_help()
PLACEHOLDERS = ("...", "RUN", "N", "M")


def _set_examples():
    found = set(re.findall(r"--set\s+([a-z_]+\.[a-z_0-9]+=[^\s`,)]+)", README + HELP))
    found |= set(re.findall(r"`((?:train|model|data|eval|runtime)\.[a-z_0-9]+=[^\s`]+)`", README))
    return sorted(e for e in found if e.split("=", 1)[1] not in PLACEHOLDERS
                  and not e.startswith("section."))


def _fit_lines():
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if "python -m training.fit" in line:
                command = line.split("python -m training.fit", 1)[1].split("#")[0]
                lines.append(re.split(r"\s[>|&]", command)[0])  # shell redirections
    return lines


def test_the_documentation_has_examples():
    assert len(_set_examples()) >= 5 and len(_fit_lines()) >= 3


@pytest.mark.parametrize("example", _set_examples())
def test_every_documented_set_option_resolves(example):
    """Through the driver's own resolution (training.config.resolve, the function the CLI
    and the API call), so a value that a section refuses, or a key no section has, fails."""
    errors = []
    section, key = example.split("=", 1)[0].split(".", 1)
    for model in ("ngnn", "din"):
        task = tasks.task_class(model)
        try:
            sections = cfg.resolve(task, sets=[example])
        except cfg.UsageError as err:
            errors.append("{}: {}".format(model, err))
            continue
        resolved = cfg.to_dict(sections[section])
        top = key.split(".", 1)[0]
        assert top in resolved, (model, example)  # the value landed where it says
        return
    pytest.fail("documented --set {} is refused by every model: {}".format(example, errors))


@pytest.mark.parametrize("name", sorted(set(re.findall(r"--preset[ =]+([a-z_]+)",
                                                         README + HELP))))
def test_every_documented_preset_resolves(name):
    """Each documented preset resolves for a model that has it, through the same layering
    as the CLI, and changes that model's resolved config (an empty preset would not)."""
    owners = [m for m in ("ngnn", "din") if name in tasks.task_class(m).presets]
    assert owners, name
    for model in owners:
        task = tasks.task_class(model)
        plain = {s: cfg.to_dict(v) for s, v in cfg.resolve(task).items()}
        preset = {s: cfg.to_dict(v) for s, v in cfg.resolve(task, preset=name).items()}
        assert preset != plain, (model, name)


@pytest.mark.parametrize("line", _fit_lines())
def test_every_documented_fit_command_parses(line):
    words = [w for w in shlex.split(line) if "{" not in w and "|" not in w]
    if "[" in line:  # the synopsis: its bracketed options are checked by name only
        options = set(re.findall(r"(--[a-z-]+)", line))
        known = {o for action in fit.build_parser()._actions  # pylint: disable=W0212
                 for o in action.option_strings}
        assert options <= known, options - known
        return
    args = fit.build_parser().parse_args(words)
    assert args.model in ("ngnn", "din")


def test_the_readme_is_a_front_door():
    """At most ~150 lines (issue 34): the rest is in docs/, and no figure of one CI run."""
    text = open(DOCUMENTS[0]).read()
    assert len(text.splitlines()) <= 150
    assert "CI finished" not in text and not re.search(r"\.ci/run.*\d+ s\b", text)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_every_link_between_the_documents_leads_to_a_file(path):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", open(path).read()):
        if "://" in target:
            continue
        assert os.path.exists(os.path.join(os.path.dirname(path), target)), (path, target)


def test_the_extending_example_writes_a_folder_din_reads(tmp_path):
    """docs/extending.md's converter, executed as printed, then read by the MovieLens reader
    exactly as ``--data-dir`` would."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    import pandas as pd  # pylint: disable=import-outside-toplevel

    from datasets import movielens  # pylint: disable=import-outside-toplevel

    text = open(os.path.join(ROOT, "docs", "extending.md")).read()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[-1]
    namespace = {}
    exec(compile(code, "docs/extending.md", "exec"), namespace)  # pylint: disable=exec-used
    rng = np.random.RandomState(0)
    events = pd.DataFrame({"user": np.repeat(np.arange(1, 61), 12),
                           "item": rng.randint(1, 40, 720),
                           "rating": rng.randint(1, 6, 720),
                           "time": np.arange(720) + 10 ** 9})
    items = pd.DataFrame({"item": np.arange(1, 40),
                          "categories": ["Shoes|Bags" if i % 3 else "Hats"
                                         for i in range(1, 40)]})
    folder = str(tmp_path / "my-log")
    namespace["write_movielens_layout"](events, items, folder)
    assert movielens.detect(folder) == "csv"
    sample_set, protocol = movielens.load(folder, str(tmp_path / "cache"), maxlen=5)
    assert protocol["layout"] == "csv" and sample_set.splits["train"].num_rows > 0
    assert set(sample_set.vocab["categories"][1:]) <= {"Shoes", "Bags", "Hats"}
