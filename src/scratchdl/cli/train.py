"""``scratchdl train``: train a network on MNIST, write the model, history and curves."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from scratchdl.cli._options import add_data_dir, add_flags, flag_values
from scratchdl.train import Callback, TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    p = subparsers.add_parser(
        "train",
        help="train a network on MNIST; writes model.npz, history.json and curves.png",
        description=(
            "Train a network (fully connected, or --model cnn/deep-cnn) with mini-batch gradient "
            "descent, printing train "
            "and test accuracy every epoch. The defaults reproduce the book's ch. 5 run: 784-50-10 "
            "ReLU, SGD with lr 0.1, batches of 100, 10,000 iterations. Ctrl-C, or the end "
            "of the --max-seconds budget, saves the model so far and a checkpoint; continue "
            "with --resume. A finished run in --out is replaced only with --force."
        ),
    )
    add_data_dir(p)
    add_flags(p, TrainConfig, exclusive=("epochs", "iters"))
    p.add_argument("--out", default="run", metavar="DIR", help="output folder (default: ./run)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out that Ctrl-C or --max-seconds stopped, from its checkpoint",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the finished or unfinished run in --out; also run when the memory "
        "estimate exceeds what the machine has available",
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar and no per-epoch table, only the final line",
    )
    p.set_defaults(func=_train)


def _config_from_args(args: argparse.Namespace) -> tuple[Any, float | None]:
    """The settings of a new run from the flags (None with ``--resume``: the checkpoint's),
    and --max-seconds, each session's own."""
    from scratchdl.cli._runfolder import refuse_on_resume

    given = flag_values(TrainConfig, args)
    max_seconds = given.pop("max_seconds", None)
    refuse_on_resume(args, given)
    if args.resume:
        return None, max_seconds
    return TrainConfig(**given, max_seconds=max_seconds).validate(), max_seconds


def _resume_config(out: Path, max_seconds: float | None) -> Any:
    """The settings of the run whose checkpoint is in ``out``; a damaged one says how to
    start over."""
    from scratchdl.errors import ModelFileError
    from scratchdl.train import checkpoint_config

    try:
        config = checkpoint_config(out)
    except (ModelFileError, ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(
            f"cannot resume: {exc}; to start the run over, run scratchdl train --out {out} "
            "--force (with the run's settings)"
        ) from None
    config.max_seconds = max_seconds
    return config


def _check_memory(config: Any, force: bool) -> None:
    """Refuse, before loading anything, a network too large for this machine's memory."""
    from scratchdl.cli._resources import check_memory, train_estimate_for

    estimate, parts = train_estimate_for(config)
    check_memory("train", estimate, parts, "use a smaller --hidden or --batch-size", force)


class _EpochTable(Callback):
    """Callback printing one row per evaluation record (through the progress bar if any)."""

    HEADER = (
        f"{'epoch':>5} {'iter':>6} {'train acc':>9} {'test acc':>8} {'train loss':>10} "
        f"{'test loss':>9} {'time':>7}"
    )

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.printed_header = False

    def _print(self, text: str) -> None:
        if self.progress is not None and self.progress.active:
            self.progress.print(text)
        else:
            print(text, flush=True)

    def on_train_begin(self, trainer: Any) -> None:
        if not self.printed_header:
            self._print(self.HEADER)
            self.printed_header = True

    def on_epoch(self, trainer: Any, record: Any) -> None:
        from scratchdl._text import epochs_done

        def fmt(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)

        # Epochs done, not the epoch the record falls in: 10,000 updates of 600 per epoch
        # are 16.67 epochs (a final partial epoch), not 17.
        done = epochs_done(record.iteration, trainer.iter_per_epoch)
        self._print(
            f"{done:>5} {record.iteration:>6} {record.train_acc:>9.4f} "
            f"{fmt(record.test_acc, '>8.4f'):>8} {record.train_loss:>10.4f} "
            f"{fmt(record.test_loss, '>9.4f'):>9} {record.elapsed:>6.1f}s"
        )


def _train(args: argparse.Namespace) -> int:
    from scratchdl.cli._runfolder import check_folder, check_out, run_folder

    config, max_seconds = _config_from_args(args)
    out = Path(args.out)
    check_out(out)
    with run_folder(out) as folder:
        state = check_folder(folder, args)
        if args.resume:
            config = _resume_config(out, max_seconds)
            folder.link_checkpoint()
        _check_memory(config, args.force)
        return _train_in(folder, state, config, args)


def _train_in(folder: Any, state: str, config: Any, args: argparse.Namespace) -> int:
    """Train into ``folder``'s staging area, then swap the complete results into place."""
    from scratchdl.cli._runfolder import say_saved, sigint_held
    from scratchdl.errors import DivergenceError
    from scratchdl.io import save_model
    from scratchdl.plots.curves import save_training_curves
    from scratchdl.train import (
        CHECKPOINT_NAME,
        BackgroundEvaluation,
        BlasThreads,
        StopOnCtrlC,
        train,
    )
    from scratchdl.train.progress import RichProgress

    out, staging = Path(args.out), folder.staging
    # The command line switches on what the library leaves off: Ctrl-C stops cleanly (and
    # keeps a checkpoint), one BLAS thread per step, evaluation on a second thread.
    callbacks: list[Any] = [StopOnCtrlC(), BlasThreads(1)]
    progress = None
    if not args.quiet:
        progress = RichProgress()
        callbacks += [_EpochTable(progress), progress]
        print(f"training {config.describe()}", flush=True)
    evaluator = BackgroundEvaluation() if (os.cpu_count() or 1) > 1 else None
    try:
        net, history = train(
            config,
            data_dir=args.data_dir,
            checkpoint_dir=staging,
            resume=args.resume,
            callbacks=callbacks,
            evaluator=evaluator,
        )
    except OSError as exc:  # the checkpoint of a stopped run could not be written
        if exc.filename and Path(exc.filename).parent == staging:
            raise _write_error(exc, out) from None
        raise
    interrupted = history.stop_reason == "interrupted"
    diverged = history.stop_reason == "diverged"
    if diverged and state != "empty":
        # The previous run (or this run's own checkpoint) is better than weights that diverged.
        kept = {
            "finished": "its previous run",
            "unfinished": "the checkpoint it resumed from" if args.resume else "its unfinished run",
        }.get(state, "its previous files")
        raise DivergenceError(f"{history.message}; {out} keeps {kept}, nothing was replaced")
    last = history.last
    final = history.info.get("final") or {}
    metadata = {
        "dataset": config.dataset,
        "train_config": config.to_dict(),
        "iterations": history.iterations,
        "stop_reason": history.stop_reason,
        # On the full test set, also when the per-epoch records used --eval-samples (unless
        # the time budget ended first: then on the images it measured, test_n says how many).
        "test_acc": final.get("test_acc", None if last is None else last.test_acc),
        "test_n": final.get("n_test", _record_test_rows(history, config)),
    }
    with sigint_held() as held:
        try:
            history.save(staging / "history.json")
            save_model(net, staging / "model.npz", metadata=metadata)
            save_training_curves(
                history, staging / "curves.png", title=_curves_title(config, history)
            )
            folder.commit()
        except OSError as exc:
            raise _write_error(exc, out) from None
    wrote = f"wrote {out / 'model.npz'}, {out / 'history.json'}, {out / 'curves.png'}"
    if interrupted:
        print(
            f"interrupted after {history.iterations} of {history.total_iters} iterations"
            f"{' (' + history.message + ')' if history.message else ''}; {wrote} and "
            f"{out / CHECKPOINT_NAME}; continue with: scratchdl train --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    if diverged:
        raise DivergenceError(f"{history.message}; {wrote}")
    note = f" ({history.message})" if history.message else ""
    print(f"{history.summary()}{note}; {wrote}")
    _say_what_was_evaluated(history, config, out)
    if last is not None:
        _warn_if_not_learned(history, config, net.output_size)
    if history.stop_reason == "time_limit":
        print(
            f"the run is unfinished; {out / CHECKPOINT_NAME} keeps its state: continue with "
            f"scratchdl train --out {out} --resume [--max-seconds S]"
        )
    return say_saved(held)


def _record_test_rows(history: Any, config: Any) -> int | None:
    """Test images the last record was measured on."""
    n_test = history.info.get("n_test") or 0
    cut = history.info.get("cut_record") or {}
    sizes = (n_test, config.eval_samples, cut.get("samples"))
    return min(size for size in sizes if size) if n_test else None


def _curves_title(config: Any, history: Any) -> str:
    """The run's settings, with the length it actually trained when it stopped early."""
    from scratchdl._text import epochs_done, plural_epochs

    title = config.describe()
    if history.iterations < history.total_iters:
        done = plural_epochs(epochs_done(history.iterations, history.iter_per_epoch))
        title += f"; trained {done} ({history.iterations} iters), stopped: {history.stop_reason}"
    return title


def _say_what_was_evaluated(history: Any, config: Any, out: Path) -> None:
    """One line when the time budget cut or skipped the final evaluation."""
    if history.stop_reason == "interrupted" or history.info.get("n_test", 0) == 0:
        return
    full = f"scratchdl evaluate {out / 'model.npz'} measures the full test set"
    cut = history.info.get("cut_record")
    if cut:
        print(
            f"the last record was measured on {cut['samples']} samples of each set, not the "
            f"full sets, to stay within --max-seconds; {full}"
        )
    final = history.info.get("final")
    if config.eval_samples is None or config.eval_samples >= history.info["n_test"]:
        return
    if final is None and config.max_seconds is not None:
        print(
            "the final evaluation on the full test set was skipped: the --max-seconds budget "
            f"was used up; {full}"
        )
    elif final and final.get("n_test", 0) < final.get("of_test", 0):
        print(
            f"the final evaluation stopped at the --max-seconds budget after "
            f"{final['n_test']} of the {final['of_test']} test images; {full}"
        )


def _warn_if_not_learned(history: Any, config: Any, n_classes: int) -> None:
    """A finite run that ended near chance: say whether it stopped learning or had not learned
    yet (loss still falling), with the budget it had (:mod:`scratchdl.train.verdict`)."""
    from scratchdl._text import epochs_done, plural_epochs
    from scratchdl.train.verdict import learning_verdict

    budget = plural_epochs(epochs_done(history.iterations, history.iter_per_epoch))
    verdict = learning_verdict(
        history.last.train_acc,
        history.loss,
        1 / n_classes,
        budget,
        more="try more epochs (--epochs)",
        epochs=history.iterations / max(history.iter_per_epoch, 1),
    )
    if verdict.kind == "learned":
        return
    text = (
        f"scratchdl train: warning: the network {verdict.phrase} (train accuracy "
        f"{history.last.train_acc:.3f}, chance {1 / n_classes:.3f})"
    )
    if verdict.failed:
        # Only a run that stopped learning points at its settings.
        text += (
            f"; the learning rate ({config.lr:g}) may be far too large or too small, or the "
            f"initial weights ({config.init}) badly scaled"
        )
    print(text, file=sys.stderr)


def _write_error(exc: OSError, out: Path) -> Exception:
    """A failed write (full disk, ...) as one line naming the file in ``out``."""
    from scratchdl.cli._runfolder import RunFolderError

    name = Path(exc.filename).name if exc.filename else "the results"
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return RunFolderError(
        f"cannot write {out / name}: {reason}; {out} keeps its previous contents (free some "
        "space, or choose another --out)"
    )
