"""``dpcsim demo`` is ``dpcsim plan`` (the run itself is tested in test_plan.py)."""

from __future__ import annotations

from dpcsim.cli import build_parser, main


def _options(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {
        opt for action in sub.choices[command]._actions for opt in action.option_strings
    }


def test_demo_takes_exactly_the_plans_options():
    assert _options("demo") == _options("plan")
    assert {"--workload", "--quick", "--out", "--force"} <= _options("demo")


def test_demo_refuses_bad_arguments_like_plan(tmp_path, capsys):
    assert main(["demo", "--workers", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "--workers 0" in err
    assert not (tmp_path / "o").exists()


def test_demo_refuses_a_non_empty_folder_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
