"""``scratchdl nlp rnnlm``, ``nlp seq2seq`` and ``nlp attention-map``: chapters 6-8 of the
second book on the command line (registered in the ``nlp`` group by :mod:`scratchdl.cli.nlp`).

* ``scratchdl nlp rnnlm --corpus ptb|FILE --out FILE.npz``: train the ch. 6 ``Rnnlm``
  (truncated BPTT, SGD, clipping; weights written after every epoch) and report the perplexity
  on held-out text.
* ``scratchdl nlp seq2seq --data addition|date --out DIR``: train the book's improved
  seq2seq (``addition``: PeekySeq2seq with reversed input, ch. 7.5; ``date``: AttentionSeq2seq,
  ch. 8.3) into a run folder, handled as ``scratchdl train``'s (locked, staged, swapped in
  whole, replaced only with ``--force``), and print the test accuracy after every epoch and
  three answers. Ctrl-C or ``--max-seconds`` leaves ``checkpoint.npz`` (weights, Adam's
  moments, the batch order), and ``--resume`` continues step for step.
* ``scratchdl nlp attention-map --question TEXT --out FILE.png``: the answer of an
  AttentionSeq2seq for one date question (weights from ``nlp seq2seq --data date`` or the
  book's ``AttentionSeq2seq.pkl``) and its attention map as a PNG (Figure 8-26).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from scratchdl.train import CHECKPOINT_NAME, Callback

#: What ``--data`` trains: model class name, hidden size, the book's epochs.
SEQ_DATA = {"addition": ("PeekySeq2seq", 128, 25), "date": ("AttentionSeq2seq", 256, 10)}
_WORDVEC = 16
_BATCH = 128


def register_nlp(sub: Any) -> None:
    """Add ``rnnlm``, ``seq2seq`` and ``attention-map`` to the ``nlp`` subcommands."""
    r = sub.add_parser(
        "rnnlm",
        help="train the book's LSTM language model (Rnnlm, ch. 6) and report its perplexity",
        description="Train Rnnlm with truncated BPTT (SGD, gradient clipping) into a run folder "
        "and report the perplexity on held-out text: PTB's test file for --corpus ptb, else "
        "the last 10%% of the corpus (trained on the first 90%%). It ends holding model.npz "
        "and history.json (and checkpoint.npz when Ctrl-C or --max-seconds stopped it: "
        "continue with --resume).",
    )
    r.add_argument(
        "--corpus",
        help="'ptb' (the PTB training file, downloaded and verified if missing) or a text file "
        "(one sentence per line); required",
    )
    r.add_argument("--data-dir", help="folder with the PTB files (default: the user cache)")
    r.add_argument("--out", required=True, help="run folder (created; locked while training)")
    r.add_argument("--epochs", type=int, help="passes over the corpus (4)")
    r.add_argument("--max-iters", type=int, help="steps per epoch (default: the whole corpus)")
    r.add_argument("--wordvec", type=int, help="word-vector size (100)")
    r.add_argument("--hidden", type=int, help="LSTM size (100)")
    r.add_argument("--batch-size", type=int, help="rows per step (20)")
    r.add_argument("--time-size", type=int, help="words per row per step (35)")
    r.add_argument("--lr", type=float, help="SGD learning rate (20)")
    r.add_argument("--max-grad", type=float, help="gradient clipping norm (0.25)")
    r.add_argument("--seed", type=int, help="seed of the weights (0)")
    add_run_flags(r)
    r.set_defaults(
        func=run_command, defaults=RNNLM_DEFAULTS, settings=_rnnlm_settings, body=_rnnlm_in
    )

    s = sub.add_parser(
        "seq2seq",
        help="train seq2seq on addition (Peeky, reversed input) or dates (attention), book 2 "
        "ch. 7-8",
        description="Train the book's improved seq2seq on its addition or date data set into "
        "a run folder and print the test accuracy after each epoch; it ends holding "
        "model.npz and history.json (and checkpoint.npz when Ctrl-C or --max-seconds stopped "
        "it: continue with --resume).",
    )
    s.add_argument("--data", choices=sorted(SEQ_DATA), help="the data set (required)")
    s.add_argument("--out", required=True, help="run folder (created; locked while training)")
    s.add_argument("--epochs", type=int, help="epochs (default: the book's, 25 / 10)")
    s.add_argument(
        "--max-iters",
        type=int,
        help="steps per epoch, on the first N x 128 questions (default: all 351)",
    )
    s.add_argument("--seed", type=int, help="seed of the weights and batches (0)")
    add_run_flags(s)
    s.set_defaults(
        func=run_command, defaults=SEQ2SEQ_DEFAULTS, settings=_seq2seq_settings, body=_seq2seq_in
    )

    a = sub.add_parser(
        "attention-map",
        help="answer one date question and draw where the attention looked (PNG)",
        description="Run an AttentionSeq2seq trained on the date set on one question, print "
        "its answer and write the attention weights as a PNG heat map.",
    )
    a.add_argument(
        "--model",
        required=True,
        help="weights: a run folder of 'scratchdl nlp seq2seq --data date' (or its model.npz), "
        "or the book's AttentionSeq2seq.pkl",
    )
    a.add_argument(
        "--question",
        required=True,
        help="a date as in the data set, e.g. 'Sunday, September 12, 1999'",
    )
    a.add_argument("--out", required=True, help="PNG to write")
    a.add_argument("--force", action="store_true", help="replace --out if it exists")
    a.set_defaults(func=_attention_map)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """``--max-seconds``, ``--resume`` and ``--force`` of a training command's run folder."""
    parser.add_argument(
        "--max-seconds",
        type=float,
        help="stop after this many seconds, keeping a checkpoint (continue with --resume)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run stopped in --out")
    parser.add_argument("--force", action="store_true", help="replace the run already in --out")


def _build(kind: str, vocab_size: int, seed: int | None) -> Any:
    from scratchdl.attention import AttentionSeq2seq
    from scratchdl.seq2seq import PeekySeq2seq

    name, hidden, _ = SEQ_DATA[kind]
    cls = PeekySeq2seq if name == "PeekySeq2seq" else AttentionSeq2seq
    return cls(vocab_size, _WORDVEC, hidden, rng=seed)


#: Settings of a seq2seq run (flag name -> default); ``epochs`` None is the book's.
SEQ2SEQ_DEFAULTS: dict[str, Any] = {"data": None, "epochs": None, "max_iters": None, "seed": 0}


def _seq2seq_settings(settings: dict[str, Any]) -> dict[str, Any]:
    from scratchdl.errors import ConfigError

    if settings["data"] is None:
        raise ConfigError(f"--data is required: {' or '.join(sorted(SEQ_DATA))}")
    if settings["epochs"] is None:
        settings["epochs"] = SEQ_DATA[settings["data"]][2]
    return check_flags(settings, whole=("epochs", "max_iters"))


def _seq2seq_in(folder: Any, settings: dict[str, Any], checkpoint: Any, args: Any) -> int:
    from scratchdl.cli._runfolder import say_saved
    from scratchdl.data import sequence
    from scratchdl.optimizers import Adam
    from scratchdl.seq2seq import seq2seq_accuracy
    from scratchdl.train.book2 import Trainer
    from scratchdl.train.helpers import StopOnCtrlC

    out, data = Path(args.out), settings["data"]
    name, _, _ = SEQ_DATA[data]
    epochs, max_iters, seed = settings["epochs"], settings["max_iters"], settings["seed"]
    (x_train, t_train), (x_test, t_test) = sequence.load_data(f"{data}.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]  # reversed input (ch. 7.5.1)
    if max_iters is not None:
        x_train, t_train = x_train[: max_iters * _BATCH], t_train[: max_iters * _BATCH]
    model = _build(data, len(char_to_id), seed)
    params, optimizer = _numbered(model), Adam(lr=0.001)
    steps = len(x_train) // _BATCH
    callbacks: list[Any] = [StopOnCtrlC()]
    if args.max_seconds is not None:
        callbacks.append(_Budget(args.max_seconds, epochs * steps))
    trainer = Trainer(model, optimizer, rng=seed, callbacks=callbacks)
    accuracies: list[float] = []
    elapsed_before = 0.0
    if checkpoint is not None:
        elapsed_before = restore_checkpoint(checkpoint, params, optimizer, trainer, out)
        accuracies = [float(a) for a in checkpoint["record"]["accuracies"]]
    print(
        f"{name} on {data}: {len(x_train)} training questions ({steps} steps of {_BATCH} "
        f"per epoch), {epochs} epoch(s), test on {len(x_test)}"
        + (f"; resuming at step {trainer.iteration}" if checkpoint is not None else ""),
        flush=True,
    )
    start = time.perf_counter()
    stop_reason = None
    while stop_reason is None:
        if len(accuracies) < trainer.current_epoch:  # an epoch done, not yet tested
            try:
                accuracies.append(seq2seq_accuracy(model, x_test, t_test))
            except KeyboardInterrupt:  # the training loop's Ctrl-C handler is not active here
                stop_reason = "interrupted"  # the checkpoint is at the epoch's end
                break
            print(
                f"epoch {trainer.current_epoch}: test accuracy {accuracies[-1]:.4f} "
                f"({elapsed_before + time.perf_counter() - start:.0f} s)",
                flush=True,
            )
        if trainer.current_epoch >= epochs:
            break
        trainer.fit(x_train, t_train, 1, _BATCH, max_grad=5.0, eval_interval=None, verbose=False)
        stop_reason = trainer.stop_reason
    elapsed = elapsed_before + time.perf_counter() - start
    history = {
        "settings": settings,
        "model": name,
        "iterations": trainer.iteration,
        "total_iterations": epochs * steps,
        "epochs_done": trainer.iteration / steps,
        "stop_reason": stop_reason,
        "elapsed_seconds": round(elapsed, 3),
        "test_accuracy": accuracies,
    }
    record = {"settings": settings, "elapsed": elapsed, "accuracies": accuracies}
    held = save_run(folder, args, history, model.save_params, record, params, optimizer, trainer)
    done = f"{trainer.iteration} of {epochs * steps} steps in {elapsed:.0f} s"
    if stop_reason is not None:
        return say_stopped(args, stop_reason, f"{done}; wrote {out / 'model.npz'}")
    guesses = model.generate(x_test[:3], t_test[:3, 0], t_test.shape[1] - 1)
    for q, t, g in zip(x_test[:3], t_test[:3], guesses, strict=True):
        text = "".join(id_to_char[int(c)] for c in q[::-1]).strip()
        want = "".join(id_to_char[int(c)] for c in t[1:]).strip()
        got = "".join(id_to_char[int(c)] for c in g).strip()
        print(f"  {text} -> {got} ({'right' if got == want else 'wrong, ' + want})")
    acc = accuracies[-1]
    print(
        f"test accuracy {acc:.4f} ({round(acc * len(x_test))} of {len(x_test)} exact answers) "
        f"after {epochs} epoch(s) of {steps} steps, {elapsed:.0f} s; wrote {out / 'model.npz'}, "
        f"{out / 'history.json'}"
    )
    return say_saved(held)


class _Budget(Callback):
    """``--max-seconds`` for the whole command: stop after the first step past it (unless that
    step ends the run). Not :class:`scratchdl.train.helpers.TimeBudget`, whose clock restarts
    at every ``fit``: this loop calls ``fit`` once per epoch, the test accuracy between."""

    def __init__(self, max_seconds: float, total_steps: int) -> None:
        self.max_seconds, self.total_steps = max_seconds, total_steps
        self.start: float | None = None

    def on_train_begin(self, trainer: Any) -> None:
        if self.start is None:
            self.start = time.perf_counter()

    def on_iteration(self, trainer: Any, loss: float) -> None:
        assert self.start is not None
        spent = time.perf_counter() - self.start
        if spent > self.max_seconds and trainer.iteration < self.total_steps:
            trainer.request_stop("time_limit")


def corpus_digest(corpus: Any, id_to_word: dict[int, str]) -> str:
    """SHA-256 of the word ids and the words: a resumed run must see the corpus it started
    on."""
    import hashlib
    import json

    digest = hashlib.sha256(corpus.astype("<i8").tobytes())
    digest.update(json.dumps([id_to_word[i] for i in range(len(id_to_word))]).encode("utf-8"))
    return digest.hexdigest()


# -- what the nlp training commands share: settings, run folder, checkpoint, last words --------


def check_flags(
    settings: dict[str, Any], whole: tuple[str, ...] = (), positive: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``settings`` if the counts in ``whole`` (None: unset) are at least 1 and the numbers in
    ``positive`` are positive and finite."""
    from scratchdl.checks import check_positive
    from scratchdl.cli._options import flag_name
    from scratchdl.errors import ConfigError

    for key in whole:
        if settings[key] is not None and settings[key] < 1:
            flag = flag_name(key)
            raise ConfigError(f"{flag} must be at least 1, got {settings[key]}")
    for key in positive:
        check_positive(settings[key], flag_name(key))
    return settings


def corpus_setting(corpus: str, names: tuple[str, ...]) -> str:
    """``corpus`` if it is one of ``names`` (PTB's files), else the text file's absolute
    path: it is stored with the run, and --resume from another folder must find the file."""
    return corpus if corpus in names else str(Path(corpus).expanduser().resolve())


def run_command(args: argparse.Namespace) -> int:
    """An nlp training command: ``args.body(folder, settings, checkpoint, args)`` in the run
    folder ``--out``, which is checked, locked and staged as ``scratchdl train``'s. A new run's
    settings are the flags' over ``args.defaults``, checked by ``args.settings(settings)``;
    ``--resume`` continues with the settings and checkpoint of the run stopped there, and so
    refuses any flag that would change them. ``--max-seconds`` is checked for both alike."""
    from scratchdl.checks import check_positive
    from scratchdl.cli._runfolder import check_folder, check_out, refuse_on_resume, run_folder

    if args.max_seconds is not None:
        check_positive(args.max_seconds, "--max-seconds")
    given = {k: getattr(args, k) for k in args.defaults if getattr(args, k) is not None}
    refuse_on_resume(args, given)
    settings = None if args.resume else args.settings({**args.defaults, **given})
    out = Path(args.out)
    check_out(out)
    with run_folder(out) as folder:
        check_folder(folder, args)
        checkpoint = None
        if args.resume:
            checkpoint = read_checkpoint(out / CHECKPOINT_NAME, args.nlp_command)
            settings = checkpoint["record"]["settings"]
        return args.body(folder, settings, checkpoint, args)


def save_run(
    folder: Any, args: Any, history: dict[str, Any], write_model: Any, *checkpoint: Any
) -> dict[str, Any]:
    """Write ``write_model(staging / "model.npz")``, ``history.json`` and, for a run that
    stopped early, the checkpoint (:func:`write_checkpoint` of ``checkpoint``: its arguments
    from ``record`` on), then swap them in, Ctrl-C held back meanwhile; returns whether it
    came (:func:`~scratchdl.cli._runfolder.sigint_held`)."""
    import json

    from scratchdl.cli._runfolder import sigint_held

    with sigint_held() as held:
        write_model(folder.staging / "model.npz")
        text = json.dumps(history, indent=1) + "\n"
        (folder.staging / "history.json").write_text(text, "utf-8")
        if history["stop_reason"] is not None:
            write_checkpoint(folder.staging / CHECKPOINT_NAME, args.nlp_command, *checkpoint)
        folder.commit()
    return held


def say_stopped(args: Any, stop_reason: str, what: str) -> int:
    """Say why the run stopped, what it wrote (``what``, then the checkpoint) and how to
    continue; the exit code."""
    why = "interrupted" if stop_reason == "interrupted" else "time budget used up"
    print(
        f"{why}: {what}, {Path(args.out) / CHECKPOINT_NAME}; continue with: scratchdl nlp "
        f"{args.nlp_command} --out {Path(args.out)} --resume",
        file=sys.stderr if stop_reason == "interrupted" else sys.stdout,
    )
    return 130 if stop_reason == "interrupted" else 0


def load_corpus(name: str, data_dir: str | None, quiet: bool) -> tuple:
    """``(corpus, word_to_id, id_to_word)`` of ``'ptb'``, ``'ptb-val'``, ``'ptb-test'`` (PTB's
    files) or a text file."""
    from scratchdl.data.ptb import load_corpus_file, load_ptb

    splits = {"ptb": "train", "ptb-val": "val", "ptb-test": "test"}
    if name in splits:
        return load_ptb(splits[name], data_dir=data_dir, quiet=quiet)
    return load_corpus_file(name)


def _numbered(model: Any) -> dict[str, Any]:
    return {f"p{i}": p for i, p in enumerate(model.params)}


def write_checkpoint(
    path: Path,
    command: str,
    record: dict[str, Any],
    params: dict[str, Any],
    optimizer: Any,
    trainer: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """The weights ``params`` (by name), the optimizer's slots, the trainer's loop state,
    the ``extra`` arrays (None values left out) and the JSON ``record`` in one ``.npz``,
    written atomically."""
    import numpy as np

    from scratchdl._fs import atomic_path
    from scratchdl._npz import json_array

    opt = optimizer.state_dict()
    loop = trainer.state_dict()
    arrays = dict(params)
    optional = {**(extra or {}), "perm": loop.pop("perm", None)}
    arrays.update({k: v for k, v in optional.items() if v is not None})
    for key, slots in opt["state"].items():
        for slot, value in slots.items():
            arrays[f"opt/{key}/{slot}"] = value
    full = {
        "format": f"scratchdl-{command}-checkpoint",
        **record,
        "loop": loop,
        "optimizer": {k: opt[k] for k in ("name", "hyperparameters", "iterations")},
    }
    arrays["record"] = json_array(full)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)


def read_checkpoint(path: Path, command: str) -> dict[str, Any]:
    """What :func:`write_checkpoint` wrote; a damaged or foreign file is one clear error."""
    import zipfile

    import numpy as np

    from scratchdl._npz import array_json, inspect_npz
    from scratchdl.errors import ModelFileError

    fix = (
        f"start the run over with scratchdl nlp {command} --out {path.parent} --force (and its "
        "settings)"
    )
    try:
        inspect_npz(path, what="checkpoint")  # sizes from the headers, before reading
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        record = array_json(arrays.pop("record"))
        if (
            not isinstance(record, dict)
            or record.get("format") != f"scratchdl-{command}-checkpoint"
        ):
            raise ValueError(f"not a checkpoint of nlp {command}")
        record["settings"], record["loop"], record["optimizer"]  # noqa: B018 - present
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ModelFileError) as exc:
        raise ModelFileError(f"cannot resume from {path}: {exc}; {fix}") from None
    return {"record": record, "arrays": arrays}


def restore_checkpoint(
    checkpoint: dict[str, Any],
    params: dict[str, Any],
    optimizer: Any,
    trainer: Any,
    out: Path,
    corpus_sha256: str | None = None,
) -> float:
    """Put a checkpoint's weights (into ``params``, by name), optimizer state and loop state
    back in place, after checking that it fits them (and was made on ``corpus_sha256``);
    returns the seconds the run had trained before."""
    from scratchdl.errors import ModelFileError

    record, arrays = checkpoint["record"], checkpoint["arrays"]
    if corpus_sha256 is not None and record.get("corpus_sha256") != corpus_sha256:
        raise ModelFileError(
            f"cannot resume the run in {out}: its corpus ({record['settings']['corpus']}) has "
            "changed since the run started; start over with --force"
        )
    if any(arrays.get(k) is None or arrays[k].shape != p.shape for k, p in params.items()):
        raise ModelFileError(
            f"cannot resume the run in {out}: its checkpoint does not fit the network; start "
            "over with --force"
        )
    for key, param in params.items():
        param[...] = arrays[key]
    state: dict[int, dict[str, Any]] = {}
    for name, value in arrays.items():
        if name.startswith("opt/"):
            _, key, slot = name.split("/")
            state.setdefault(int(key), {})[slot] = value
    optimizer.load_state_dict({**record["optimizer"], "state": state})
    trainer.load_state_dict({**record["loop"], "perm": arrays.get("perm")})
    return float(record["elapsed"])


#: Settings of an rnnlm run (flag name -> default: the book's ch06/train_rnnlm.py).
RNNLM_DEFAULTS: dict[str, Any] = {
    "corpus": None,
    "epochs": 4,
    "max_iters": None,
    "wordvec": 100,
    "hidden": 100,
    "batch_size": 20,
    "time_size": 35,
    "lr": 20.0,
    "max_grad": 0.25,
    "seed": 0,
}


def _rnnlm_settings(settings: dict[str, Any]) -> dict[str, Any]:
    from scratchdl.errors import ConfigError

    if settings["corpus"] is None:
        raise ConfigError("--corpus is required: 'ptb' or the path of a text file")
    settings["corpus"] = corpus_setting(settings["corpus"], ("ptb",))
    whole = ("epochs", "wordvec", "hidden", "batch_size", "time_size", "max_iters")
    return check_flags(settings, whole, positive=("lr", "max_grad"))


def _rnnlm_corpus(settings: dict[str, Any], data_dir: str | None) -> tuple:
    import numpy as np

    from scratchdl.errors import ConfigError

    corpus, word_to_id, id_to_word = load_corpus(settings["corpus"], data_dir, quiet=False)
    if settings["corpus"] == "ptb":
        held_out, _, _ = load_corpus("ptb-test", data_dir, quiet=True)
        where = "PTB test file"
    else:
        split = len(corpus) - len(corpus) // 10
        corpus, held_out = corpus[:split], corpus[split:]
        where = f"last 10% of {settings['corpus']}"
    corpus, held_out = np.asarray(corpus), np.asarray(held_out)
    step_words = settings["batch_size"] * settings["time_size"]
    if settings["max_iters"] is not None:
        corpus = corpus[: settings["max_iters"] * step_words + 1]
    if len(corpus) <= step_words or len(held_out) <= 10 * settings["time_size"]:
        raise ConfigError(
            f"the corpus is too short ({len(corpus)} training and {len(held_out)} held-out "
            f"words) for steps of {settings['batch_size']} x {settings['time_size']}: use a "
            "longer corpus"
        )
    return corpus, held_out, word_to_id, id_to_word, where


def _rnnlm_in(folder: Any, settings: dict[str, Any], checkpoint: Any, args: Any) -> int:
    from scratchdl.cli._runfolder import say_saved
    from scratchdl.optimizers import SGD
    from scratchdl.rnnlm import Rnnlm
    from scratchdl.train.helpers import StopOnCtrlC, TimeBudget
    from scratchdl.train.rnnlm import RnnlmTrainer, eval_perplexity

    out = Path(args.out)
    corpus, held_out, word_to_id, id_to_word, where = _rnnlm_corpus(settings, args.data_dir)
    digest = corpus_digest(corpus, id_to_word)
    model = Rnnlm(len(word_to_id), settings["wordvec"], settings["hidden"], rng=settings["seed"])
    params, optimizer = _numbered(model), SGD(lr=settings["lr"])
    callbacks: list[Any] = [StopOnCtrlC()]
    if args.max_seconds is not None:
        callbacks.append(TimeBudget(args.max_seconds))
    trainer = RnnlmTrainer(model, optimizer, callbacks=callbacks)
    elapsed_before = 0.0
    if checkpoint is not None:
        elapsed_before = restore_checkpoint(checkpoint, params, optimizer, trainer, out, digest)
        arrays, lstm = checkpoint["arrays"], model.lstm_layer
        lstm.h, lstm.c = arrays.get("lstm_h"), arrays.get("lstm_c")  # the carried state
    batch_size, time_size = settings["batch_size"], settings["time_size"]
    steps = (len(corpus) - 1) // (batch_size * time_size)
    print(
        f"Rnnlm ({len(word_to_id)} words, {settings['wordvec']}/{settings['hidden']}) on "
        f"{len(corpus)} words: {steps} steps of {batch_size} x {time_size} per epoch, "
        f"{settings['epochs']} epoch(s)"
        + (f"; resuming at step {trainer.iteration}" if checkpoint is not None else ""),
        flush=True,
    )
    start = time.perf_counter()
    trainer.fit(
        corpus[:-1],
        corpus[1:],
        settings["epochs"] - trainer.current_epoch,
        batch_size,
        time_size,
        max_grad=settings["max_grad"],
        eval_interval=max(steps // 5, 1),
    )
    stop_reason = trainer.stop_reason
    ppl, cut_short = None, False
    if stop_reason is None:
        model.reset_state()
        try:
            ppl = eval_perplexity(model, held_out, batch_size=10, time_size=time_size)
        except KeyboardInterrupt:  # training is done: keep the model, without its perplexity
            cut_short = True
    elapsed = elapsed_before + time.perf_counter() - start
    history = {
        "settings": settings,
        "iterations": trainer.iteration,
        "total_iterations": settings["epochs"] * steps,
        "epochs_done": trainer.iteration / steps,
        "stop_reason": stop_reason,
        "elapsed_seconds": round(elapsed, 3),
        "train_perplexity": trainer.ppl_list,
        "held_out": where,
        "held_out_perplexity": ppl,
    }
    record = {"settings": settings, "elapsed": elapsed, "corpus_sha256": digest}
    extra = {"lstm_h": model.lstm_layer.h, "lstm_c": model.lstm_layer.c}
    held = save_run(
        folder, args, history, model.save_params, record, params, optimizer, trainer, extra
    )
    done = f"{trainer.iteration} of {settings['epochs'] * steps} steps in {elapsed:.0f} s"
    if stop_reason is not None:
        return say_stopped(args, stop_reason, f"{done}; wrote {out / 'model.npz'}")
    if cut_short:
        print(
            f"interrupted while measuring the perplexity: the trained model is in "
            f"{out / 'model.npz'} ({done})",
            file=sys.stderr,
        )
        return 130
    print(
        f"perplexity {ppl:.2f} on the {where} ({len(held_out)} words) after "
        f"{settings['epochs']} epoch(s), {elapsed:.0f} s; wrote {out / 'model.npz'}, "
        f"{out / 'history.json'}"
    )
    return say_saved(held)


def _attention_map(args: argparse.Namespace) -> int:
    import numpy as np

    from scratchdl.data import sequence
    from scratchdl.errors import ConfigError
    from scratchdl.plots.attention import save_attention

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out.name}")
    if out.is_dir():
        raise ConfigError(f"{out} is a folder: give a file name for --out")
    if out.exists() and not args.force:
        raise ConfigError(f"{out} already exists: choose another --out, or pass --force")
    if not out.parent.is_dir():
        raise ConfigError(f"the folder {out.parent} does not exist: create it first")
    (x_train, t_train), _ = sequence.load_data("date.txt")
    char_to_id, id_to_char = sequence.get_vocab()
    width = x_train.shape[1]
    question = args.question
    unknown = sorted({c for c in question if c not in char_to_id})
    if unknown:
        raise ConfigError(
            f"the question has characters the date model never saw: {''.join(unknown)!r}; "
            "write dates as in the data set, e.g. 'Sunday, September 12, 1999'"
        )
    if len(question) > width:
        raise ConfigError(f"the question is {len(question)} characters; at most {width}")
    question = question.ljust(width)
    model = _build("date", len(char_to_id), 0)
    weights = Path(args.model)
    if weights.is_dir() and (weights / "model.npz").is_file():
        weights = weights / "model.npz"  # a run folder of nlp seq2seq
    model.load_params(weights)
    xs = np.array([[char_to_id[c] for c in question]])[:, ::-1]
    start_id = char_to_id["_"]
    answer = model.generate(xs, start_id, t_train.shape[1] - 1)
    ts = np.array([[start_id, *answer]])
    attention = model.attention_map(xs, ts)[0][:, ::-1]  # columns back in reading order
    rows = [id_to_char[i] for i in answer]  # step j's weights chose the j-th output
    text = "".join(id_to_char[i] for i in answer)
    save_attention(out, attention, rows, list(question), title=f"{question.strip()} -> {text}")
    print(f"{question.strip()} -> {text.strip()}")
    print(f"attention map written to {out}")
    return 0
