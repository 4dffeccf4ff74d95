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
from training.infra import config as cfg
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
    """Through the driver's own resolution (training.infra.config.resolve, the function the CLI
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


def test_the_extending_example_reader_is_all_a_new_data_set_needs(tmp_path, monkeypatch):
    """docs/extending.md's reader, executed as printed, registered with DIN's provider and
    nothing else: ``training.fit --data-dir`` finds the format, trains on it and records its
    protocol (issue 34: a new data set is a reader, with no edit to the loop or the task)."""
    import json  # pylint: disable=import-outside-toplevel

    import numpy as np  # pylint: disable=import-outside-toplevel

    from datasets import behaviour  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("NPUREC_CACHE", str(tmp_path / "cache"))
    text = open(os.path.join(ROOT, "docs", "extending.md")).read()
    code = [c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "Reader(" in c][-1]
    rng = np.random.RandomState(0)
    folder = tmp_path / "my-events"
    folder.mkdir()
    users, per_user = 240, 14
    taste = rng.randint(0, 4, users)
    lines = []
    for user in range(users):
        for step, item in enumerate(rng.choice(60, per_user, replace=False)):
            grade = 5 if item % 4 == taste[user] else int(rng.randint(1, 5))
            lines.append("{}\t{}\t{}\t{}\tc{}".format(user + 1, item + 1, grade,
                                                      10 ** 9 + 100 * user + step, item % 4))
    (folder / "events.tsv").write_text("\n".join(lines) + "\n")
    try:
        exec(compile(code, "docs/extending.md", "exec"), {})  # pylint: disable=exec-used
        assert [r.name for r in behaviour.PROVIDER.readers][-1] == "events"
        out = str(tmp_path / "run")
        assert fit.main(["--model", "din", "--data-dir", str(folder), "--output-dir", out,
                         "--device", "cpu", "--epochs", "1", "--batch-size", "64",
                         "--set", "model.embedding_dim=8"]) == 0
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        assert metrics["data"]["protocol"]["dataset"] == "events.tsv"
        assert metrics["test"]["auc"] > 0.5
    finally:
        behaviour.PROVIDER.unregister("events")
