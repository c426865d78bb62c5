"""``scratchdl nlp``: the second book's natural-language commands.

* ``scratchdl nlp cbow --out DIR``: train the book's CBOW with negative sampling (ch. 4.3) on
  PTB (or a text file of your own), with a progress bar, Ctrl-C / ``--max-seconds`` keeping a
  checkpoint, and ``--resume``. The run folder is handled as ``scratchdl train``'s: locked,
  staged, swapped in whole; it ends holding ``model.npz`` (the word vectors),
  ``history.json`` and, for a run that stopped early, ``checkpoint.npz``.
* ``scratchdl nlp most-similar WORD --model PATH``: the nearest words by cosine similarity,
  from a run folder, its ``model.npz``, or the book's ``cbow_params.pkl``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from scratchdl.train.trainer import Callback

#: Settings of a CBOW run: flag name -> default (the book's ch04/train.py).
CBOW_DEFAULTS: dict[str, Any] = {
    "corpus": "ptb",
    "hidden": 100,
    "window": 5,
    "batch_size": 100,
    "epochs": 10,
    "lr": 0.001,
    "seed": 0,
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "nlp",
        help="the second book: train CBOW word vectors on PTB, find similar words",
        description="The second book's natural-language commands.",
    )
    sub = p.add_subparsers(dest="nlp_command", metavar="NLP_COMMAND", parser_class=type(p))
    p.set_defaults(func=lambda args: _usage(p))

    from scratchdl.cli.nlp_seq import add_run_flags, register_nlp, run_command

    c = sub.add_parser(
        "cbow",
        help="train CBOW with negative sampling (book 2, ch. 4) into a run folder",
        description="Train the book's CBOW (Embedding input, negative sampling, Adam) and "
        "write its word vectors to --out/model.npz.",
    )
    c.add_argument("--out", required=True, help="run folder (created; locked while training)")
    c.add_argument(
        "--corpus",
        help="'ptb' (the Penn Treebank training file, downloaded and verified if missing; the "
        "default), 'ptb-val', 'ptb-test', or the path of a text file of your own (one "
        "sentence per line)",
    )
    c.add_argument("--data-dir", help="folder with the PTB files (default: the user cache)")
    c.add_argument("--hidden", type=int, help="word-vector size (default 100)")
    c.add_argument("--window", type=int, help="context words on each side (default 5)")
    c.add_argument("--batch-size", type=int, help="mini-batch size (default 100)")
    c.add_argument("--epochs", type=int, help="passes over the corpus (default 10)")
    c.add_argument("--lr", type=float, help="Adam's learning rate (default 0.001)")
    c.add_argument("--seed", type=int, help="seed of the weights, samples and batches (0)")
    add_run_flags(c)
    c.add_argument("--quiet", "-q", action="store_true", help="only the final line")
    c.set_defaults(func=run_command, defaults=CBOW_DEFAULTS, settings=_settings, body=_cbow_in)

    f = sub.add_parser(
        "fetch-ptb",
        help="download and verify the Penn Treebank files (train, valid, test)",
        description="Make sure ptb.train.txt, ptb.valid.txt and ptb.test.txt are present and "
        "match their checksums, downloading what is missing (TLS verified).",
    )
    f.add_argument("--data-dir", help="folder to keep them in (default: the user cache)")
    f.set_defaults(func=_fetch_ptb)

    m = sub.add_parser(
        "most-similar",
        help="the words nearest to WORD by cosine similarity",
        description="Print the words most similar to WORD, as the book's most_similar.",
    )
    m.add_argument("word")
    m.add_argument(
        "--model",
        required=True,
        help="a run folder of 'scratchdl nlp cbow', its model.npz, or the book's cbow_params.pkl",
    )
    m.add_argument("--top", type=int, default=5, help="how many words (default 5)")
    m.set_defaults(func=_most_similar)

    register_nlp(sub)  # chapters 6-8: rnnlm, seq2seq, attention-map


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# -- fetch-ptb --------------------------------------------------------------------------------


def _fetch_ptb(args: argparse.Namespace) -> int:
    from scratchdl.data import ptb

    spec = ptb.PTB  # looked up here, so tests can point it at a local server
    paths = ptb.fetch_ptb(data_dir=args.data_dir, spec=spec)
    for split, path in paths.items():
        ptb._read(path, split, spec)  # a file already present is checked too
        algorithm, digest = spec.checksums[split]
        print(f"{split}: {path} (verified: {algorithm} {digest[:12]}...)")
    return 0


# -- most-similar ----------------------------------------------------------------------------


def _most_similar(args: argparse.Namespace) -> int:
    from scratchdl.errors import ConfigError
    from scratchdl.io import load_word_vectors
    from scratchdl.words import most_similar

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, got {args.top}")
    word_vecs, word_to_id, id_to_word = load_word_vectors(args.model)
    # As typed, else in lower case (PTB's words are; a corpus of your own may not be).
    word = args.word if args.word in word_to_id else args.word.lower()
    if word not in word_to_id:
        raise ConfigError(
            f"{args.word!r} is not in the vocabulary of {args.model} ({len(word_to_id)} words)"
        )
    results = most_similar(word, word_to_id, id_to_word, word_vecs, top=args.top, show=False)
    print(f"[query] {word}")
    for other, similarity in results:
        print(f" {other}: {similarity:.4f}")
    return 0


# -- cbow --------------------------------------------------------------------------------------


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    from scratchdl.cli.nlp_seq import check_flags, corpus_setting

    settings["corpus"] = corpus_setting(settings["corpus"], ("ptb", "ptb-val", "ptb-test"))
    return check_flags(settings, ("hidden", "window", "batch_size", "epochs"), ("lr",))


def _cbow_in(folder: Any, settings: dict[str, Any], checkpoint: Any, args: Any) -> int:
    from scratchdl.cli._runfolder import say_saved
    from scratchdl.cli.nlp_seq import (
        corpus_digest,
        load_corpus,
        restore_checkpoint,
        save_run,
        say_stopped,
    )
    from scratchdl.io import save_word_vectors
    from scratchdl.optimizers import Adam
    from scratchdl.train.book2 import Trainer
    from scratchdl.train.helpers import BlasThreads, StopOnCtrlC, TimeBudget
    from scratchdl.word2vec import CBOW
    from scratchdl.words import create_contexts_target

    out = Path(args.out)
    corpus, word_to_id, id_to_word = load_corpus(settings["corpus"], args.data_dir, args.quiet)
    contexts, target = create_contexts_target(corpus, settings["window"])
    model = CBOW(
        len(word_to_id), settings["hidden"], settings["window"], corpus, rng=settings["seed"]
    )
    # The 2 * window Embedding layers share W_in: the checkpoint keeps it once.
    params = {"W_in": model.params[0], "W_out": model.ns_loss.params[0]}
    digest = corpus_digest(corpus, id_to_word)
    optimizer = Adam(lr=settings["lr"])
    callbacks: list[Any] = [StopOnCtrlC(), BlasThreads(1)]
    if args.max_seconds is not None:
        callbacks.append(TimeBudget(args.max_seconds))
    if not args.quiet:
        from scratchdl.train.progress import RichProgress

        callbacks += [_EpochLines(), RichProgress()]
    trainer = Trainer(model, optimizer, rng=settings["seed"] + 1, callbacks=callbacks)
    sampler = model.ns_loss.sampler
    elapsed_before = 0.0
    if checkpoint is not None:
        elapsed_before = restore_checkpoint(checkpoint, params, optimizer, trainer, out, digest)
        sampler.rng.bit_generator.state = checkpoint["record"]["sampler_rng"]
    if not args.quiet:
        print(
            f"training CBOW on {settings['corpus']} ({len(corpus):,} words, {len(word_to_id):,} "
            f"in the vocabulary): hidden {settings['hidden']}, window {settings['window']}, "
            f"batch {settings['batch_size']}, {settings['epochs']} epochs, Adam "
            f"{settings['lr']:g}",
            flush=True,
        )
    start = time.perf_counter()
    trainer.fit(
        contexts,
        target,
        max_epoch=settings["epochs"] - trainer.current_epoch,
        batch_size=settings["batch_size"],
        eval_interval=100,
        verbose=False,
    )
    elapsed = elapsed_before + time.perf_counter() - start
    history = {
        "settings": settings,
        "iterations": trainer.iteration,
        "total_iterations": trainer.total_iters,
        "epochs_done": trainer.iteration / trainer.iter_per_epoch,
        "stop_reason": trainer.stop_reason,
        "elapsed_seconds": round(elapsed, 3),
        "loss_every": 100,
        "loss": trainer.loss_list,
    }
    metadata = {k: history[k] for k in ("settings", "iterations", "epochs_done", "stop_reason")}

    def write_model(path: Path) -> None:
        save_word_vectors(path, model.word_vecs, id_to_word, metadata=metadata)
        _save_loss_curve(trainer.loss_list, path.with_name("curves.png"), settings)

    record = {"settings": settings, "elapsed": elapsed, "corpus_sha256": digest}
    record["sampler_rng"] = sampler.rng.bit_generator.state
    held = save_run(folder, args, history, write_model, record, params, optimizer, trainer)
    last = f"{trainer.loss_list[-1]:.4f}" if trainer.loss_list else "-"
    summary = (
        f"{trainer.iteration} of {trainer.total_iters} iterations "
        f"({history['epochs_done']:.2f} epochs) in {elapsed:.1f} s, last mean loss {last}; "
        f"wrote {out / 'model.npz'}, {out / 'history.json'}, {out / 'curves.png'}"
    )
    if trainer.stop_reason is not None:
        return say_stopped(args, trainer.stop_reason, summary)
    print(f"finished: {summary}")
    return say_saved(held)


def _save_loss_curve(loss_list: list[float], path: Path, settings: dict[str, Any]) -> None:
    """The mean loss of every 100 steps, as the book's ``trainer.plot()`` draws it."""
    from matplotlib.figure import Figure

    from scratchdl.plots import save_figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(range(len(loss_list)), loss_list, color="#1f5fa8")
    ax.set(
        xlabel="record (every 100 steps of each epoch, as the book)",
        ylabel="loss",
        title=f"CBOW on {Path(settings['corpus']).name}",
    )
    ax.grid(alpha=0.3)
    save_figure(fig, path)


class _EpochLines(Callback):
    """One line per finished epoch: the mean loss over its last 100-step window."""

    def on_train_begin(self, trainer: Any) -> None:
        self._start = time.perf_counter()

    def on_iteration(self, trainer: Any, loss: float) -> None:
        if trainer.epoch_step == 0 and trainer.loss_list:
            print(
                f"epoch {trainer.current_epoch}: loss {trainer.loss_list[-1]:.4f} "
                f"({time.perf_counter() - self._start:.0f} s)",
                flush=True,
            )
