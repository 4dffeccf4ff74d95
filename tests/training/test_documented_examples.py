"""Every option that README.md and ``--help`` show is one the code accepts: each ``--set
section.key=value`` resolves for at least one model, each ``--preset`` exists, and each
``python -m training.fit`` line parses (a wrong example, ``model.hidden_size``, once shipped)."""
import os
import re
import shlex

import pytest

from tests.conftest import ROOT
from training import config as cfg
from training import fit, tasks

README = open(os.path.join(ROOT, "README.md")).read()
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
