"""What the command line says when it refuses or warns: resource estimates up front, NumPy's
warnings and bad paths in our words, one line each."""

import re

import numpy as np

from _fault_helpers import (
    SMALL,
    _saved_model,
    cli,
    one_line_error,
)

# -- up-front resource checks ----------------------------------------------------------------------


def test_train_refuses_a_network_beyond_the_memory_available(tmp_path, capsys, fake_data):
    code, _, err = cli(
        capsys, "train", "--out", str(tmp_path / "r"), "--hidden", "1000000", "--iters", "1"
    )
    one_line_error(err, code, "train would need about", "GiB of memory", "--force")
    assert not (tmp_path / "r" / "model.npz").exists()


def test_train_force_skips_the_memory_check(tmp_path, capsys, fake_data, monkeypatch):
    import scratchdl.cli._resources as res

    monkeypatch.setattr(res, "available_memory", lambda: 1000)
    code, _, err = cli(capsys, "train", "--out", str(tmp_path / "r"), *SMALL)
    one_line_error(err, code, "this machine has 0 MiB available")
    assert cli(capsys, "train", "--out", str(tmp_path / "r"), "--force", *SMALL)[0] == 0


def test_gradcheck_refuses_a_days_long_run_and_states_its_duration(capsys, monkeypatch):
    import scratchdl.cli.basics as basics

    monkeypatch.setattr(basics, "MAX_HOURS", 1e-9)
    code, out, err = cli(capsys, "gradcheck", "--input-size", "200", "--hidden", "50")
    one_line_error(err, code, "gradcheck would take about", "loss evaluations", "--force")


def test_gradcheck_refuses_beyond_memory(capsys):
    code, _, err = cli(capsys, "gradcheck", "--input-size", "100000", "--hidden", "100000")
    one_line_error(err, code, "gradcheck would need about", "GiB of memory")


def test_gradcheck_shows_progress_of_long_gradients(capsys, monkeypatch):
    import scratchdl.cli.basics as basics

    monkeypatch.setattr(basics, "PROGRESS_SECONDS", 0.0)
    code, out, _ = cli(capsys, "gradcheck", "--input-size", "6", "--hidden", "4")
    assert code == 0
    assert re.search(r"gradcheck: numerical gradient: [\d,]+ of 96 loss evaluations", out)


def test_evaluate_refuses_beyond_memory(tmp_path, capsys, fake_data, monkeypatch):
    import scratchdl.cli._resources as res

    path = _saved_model(tmp_path)
    monkeypatch.setattr(res, "available_memory", lambda: 10)
    code, _, err = cli(capsys, "evaluate", str(path))
    one_line_error(err, code, "evaluate would need about", "--force")


# -- warnings and paths in our words ---------------------------------------------------------------


def test_numpy_warnings_reach_the_user_in_our_words(capsys):
    from scratchdl.cli import _warnings_in_our_words

    with _warnings_in_our_words("train"):
        np.exp(np.float32(1000))
        np.exp(np.float32(2000))
    err = capsys.readouterr().err
    assert err == (
        "scratchdl train: warning: numerical overflow in exp: some values became infinite or "
        "undefined (a learning rate or input scale far too large is the usual cause)\n"
    )


def test_a_corrupt_cache_warning_is_one_line_without_source(tmp_path, capsys):
    import warnings

    from scratchdl.cli import _warnings_in_our_words

    with _warnings_in_our_words("evaluate"):
        warnings.warn(
            "x.npz: processed cache ignored because it is damaged", RuntimeWarning, stacklevel=1
        )
    err = capsys.readouterr().err
    assert err == (
        "scratchdl evaluate: warning: x.npz: processed cache ignored because it is damaged\n"
    )


def test_a_symlink_loop_as_data_dir_is_reported_as_a_loop(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    code, _, err = cli(capsys, "train", "--out", str(tmp_path / "r"), "--data-dir", str(a), *SMALL)
    one_line_error(err, code, "is a loop of symbolic links")
    assert "does not exist" not in err
