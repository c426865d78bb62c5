"""``scratchdl gates`` and ``scratchdl gradcheck``: the book's small demonstrations."""

from __future__ import annotations

import argparse
import math
from typing import Any

#: Backprop and numerical gradients of a float64 net agree to about 1e-10; far above it is a bug.
GRADCHECK_TOLERANCE = 1e-7
#: Step of the central differences in ``gradcheck``.
GRADCHECK_H = 1e-4
#: Rounds of redrawing samples that sit at a ReLU kink before the rest are left out.
KINK_REDRAWS = 20
#: Estimated durations above this many hours need --force.
MAX_HOURS = 1.0
#: Seconds between progress lines of a long numerical gradient.
PROGRESS_SECONDS = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gates`` and ``gradcheck`` commands."""
    from scratchdl.choices import ACTIVATIONS

    g = subparsers.add_parser(
        "gates",
        help="perceptron truth tables of AND, NAND, OR and XOR",
        description="Print the truth tables of the book's perceptron gates (ch. 2.3), and show that a "
        "single perceptron cannot learn XOR.",
    )
    g.set_defaults(func=_gates)

    c = subparsers.add_parser(
        "gradcheck",
        help="compare backprop with numerical gradients on a small net",
        description="Build a small network, compute its gradients by backpropagation and by "
        "central differences (in float64), and print the mean absolute difference per "
        "parameter. Samples that put a ReLU input within the step h of its kink at 0 (where "
        "central differences are wrong) are redrawn, and the output says so. Exits with "
        "status 1 when one difference exceeds the tolerance.",
    )
    c.add_argument(
        "--model",
        choices=("mlp", "cnn", "deep-cnn"),
        default="mlp",
        help="mlp (default); cnn: a small SimpleConvNet on 2x7x7 images; deep-cnn: a small "
        "DeepConvNet on 1x8x8 images (its dropout off: masks are random per forward pass)",
    )
    c.add_argument(
        "--input-size", type=int, default=10, metavar="D", help="MLP inputs (default: 10)"
    )
    c.add_argument(
        "--hidden",
        type=int,
        action="append",
        metavar="N",
        help="hidden layer width; repeat for depth (default: one layer of 8)",
    )
    c.add_argument("--classes", type=int, default=4, metavar="C", help="at least 2 (default: 4)")
    c.add_argument("--samples", type=int, default=3, metavar="N", help="default: 3")
    c.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    c.add_argument("--seed", type=int, default=0, help="non-negative (default: 0)")
    c.add_argument(
        "--force",
        action="store_true",
        help=f"run even when the estimate exceeds the memory available or {MAX_HOURS:g} hour",
    )
    c.set_defaults(func=_gradcheck)


def _gates(args: argparse.Namespace) -> int:
    from scratchdl.perceptron import GATES, TRUTH_TABLE_INPUTS, fit_perceptron, truth_table

    for name, gate in GATES.items():
        print(f"{name}\n  x1 x2 | y")
        for x1, x2, y in truth_table(gate):
            print(f"   {x1}  {x2} | {y}")
        print()
    xor = truth_table(GATES["XOR"])[:, 2]
    fit = fit_perceptron(TRUTH_TABLE_INPUTS, xor)
    print(f"a single perceptron trained on XOR {fit.message}")
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    import numpy as np

    from scratchdl.cli._resources import check_memory, gradcheck_estimate
    from scratchdl.errors import ConfigError
    from scratchdl.gradient import gradient_check

    hidden = args.hidden or [8]
    for name, value, low in (
        ("--input-size", args.input_size, 1),
        ("--classes", args.classes, 2),  # one class has a constant loss: nothing to check
        ("--samples", args.samples, 1),
        ("--seed", args.seed, 0),
        *(("--hidden", h, 1) for h in hidden),
    ):
        if value < low:
            raise ConfigError(f"{name} must be an integer of at least {low}, got {value}")
    cls, config = _small_net(args.model, args, hidden)
    estimate, parts = gradcheck_estimate({"class": cls.__name__, **config}, args.samples)
    check_memory("gradcheck", estimate, parts, "use a smaller --input-size or --hidden", args.force)
    if args.model != "mlp" and args.activation != "relu":
        raise ConfigError(f"--model {args.model} uses ReLU: drop --activation")
    rng = np.random.default_rng(args.seed)
    counting_net = _counting_net_class(cls)
    net = counting_net(**config, rng=rng)
    if args.model == "mlp":
        shape = (args.input_size,)
        sizes = "-".join(str(s) for s in [args.input_size, *hidden, args.classes])
        what = f"a {sizes} {args.activation} net"
    else:
        # Biases away from 0: DeepConvNet's pad-2 convolution has outputs that see only
        # padding, whose ReLU input is the bias, and a bias of 0 would sit on the kink for
        # every sample.
        for key in net.params:
            if key.startswith("b"):
                net.params[key] = rng.uniform(0.05, 0.2, net.params[key].shape)
        for layer in net.layers.values():
            if hasattr(layer, "dropout_ratio"):
                layer.dropout_ratio = 0.0  # random masks per forward pass defeat the check
        shape = net.input_dim
        what = f"a small {cls.__name__} ({'x'.join(map(str, shape))} images)"
    x = rng.standard_normal((args.samples, *shape))
    t = rng.integers(0, args.classes, size=args.samples)
    progress = _Progress(net, x, t, args.force)
    counting_net.progress = progress
    progress.phase("looking for samples at a ReLU kink" if args.activation == "relu" else None)
    x, t, redrawn, dropped = _avoid_kinks(net, x, t, rng, GRADCHECK_H)
    if redrawn or dropped:
        done = [f"{redrawn} redrawn" if redrawn else "", f"{dropped} left out" if dropped else ""]
        print(
            f"note: {redrawn + dropped} of the {args.samples} random samples put a ReLU input "
            f"within h={GRADCHECK_H:g} of its kink at 0, where central differences are wrong: "
            + ", ".join(d for d in done if d)
        )
    if len(x) == 0:
        print("FAIL: every sample sits at a ReLU kink; try another --seed or --activation sigmoid")
        return 1
    progress.phase("numerical gradient")
    diffs = gradient_check(net, x, t, h=GRADCHECK_H)
    progress.phase(None)
    print(
        f"gradient check of {what} on {len(x)} random samples "
        "(float64): mean |backprop - numerical|"
    )
    for key, diff in diffs.items():
        print(f"  {key:>4}: {diff:.3e}")
    # A NaN difference fails and is the one reported (max() would pass it over).
    worst = max(diffs.values(), key=lambda d: math.inf if math.isnan(d) else d)
    ok = all(diff < GRADCHECK_TOLERANCE for diff in diffs.values())
    print(
        f"{'OK' if ok else 'FAIL'}: largest difference {worst:.3e} "
        f"({'below' if ok else 'above'} the tolerance {GRADCHECK_TOLERANCE:g})"
    )
    return 0 if ok else 1


def _small_net(model: str, args: argparse.Namespace, hidden: list[int]) -> tuple[type, dict]:
    """The class and keyword arguments of the network to check: the MLP asked for, or a CNN
    small enough for central differences."""
    from scratchdl.nets import DEEP_CONV_PARAMS, DeepConvNet, MultiLayerNet, SimpleConvNet

    if model == "mlp":
        config = {"input_size": args.input_size, "hidden_size_list": hidden}
        config |= {"output_size": args.classes, "activation": args.activation}
        return MultiLayerNet, config | {"weight_init_std": 1.0}
    sizes = {"hidden_size": hidden[0], "output_size": args.classes}
    if model == "cnn":
        conv = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}
        config = {"input_dim": [2, 7, 7], "conv_param": conv, **sizes, "weight_init_std": 0.5}
        return SimpleConvNet, config
    convs = {
        f"conv_param_{i + 1}": {**p, "filter_num": n}
        for i, (p, n) in enumerate(zip(DEEP_CONV_PARAMS, (2, 3, 2, 3, 2, 2), strict=True))
    }
    return DeepConvNet, {"input_dim": [1, 8, 8], **convs, **sizes}


def _avoid_kinks(net: Any, x: Any, t: Any, rng: Any, h: float) -> tuple[Any, Any, int, int]:
    """Redraw (from ``rng``, so a seed gives the same batch) the samples flagged by
    :func:`kink_samples`; after :data:`KINK_REDRAWS` rounds leave out any still flagged.

    Returns ``(x, t, number redrawn, number left out)``.
    """
    from scratchdl.gradient import kink_samples

    bad = kink_samples(net, x, t, h)
    redrawn = int(bad.sum())
    for _ in range(KINK_REDRAWS):
        if not bad.any():
            break
        idx = bad.nonzero()[0]
        x[idx] = rng.standard_normal((len(idx), *x.shape[1:]))
        bad[idx] = kink_samples(net, x[idx], t[idx], h)
    dropped = int(bad.sum())
    return x[~bad], t[~bad], redrawn - dropped, dropped


def _counting_net_class(base: type) -> type:
    class CountingNet(base):
        """A network whose every loss evaluation is reported to ``progress``.

        A class attribute, not an instance one: the gradient check works on float64 copies
        of the net (``astype``), and those must report to the same place.
        """

        progress: Any = None

        def loss(self, x: Any, t: Any, *args: Any, **kwargs: Any) -> float:
            if CountingNet.progress is not None:
                CountingNet.progress.tick()
            return super().loss(x, t, *args, **kwargs)

    return CountingNet


class _Progress:
    """Progress of the numerical gradients: they take two loss evaluations per parameter,
    which for a large net is hours. States the estimate up front, then a line every
    :data:`PROGRESS_SECONDS` with the share done and the time left."""

    def __init__(self, net: Any, x: Any, t: Any, force: bool) -> None:
        import time

        import numpy as np

        from scratchdl.cli._resources import format_duration
        from scratchdl.errors import ConfigError

        self._clock = time.perf_counter
        self._format = format_duration
        net64 = net.astype(np.float64)
        x64 = np.asarray(x, dtype=np.float64)
        start = self._clock()
        runs = 0
        while runs < 3 or (self._clock() - start < 0.05 and runs < 100):
            super(type(net64), net64).loss(x64, t)
            runs += 1
        self.per_eval = (self._clock() - start) / runs
        self.per_phase = 2 * sum(int(p.size) for p in net.params.values())
        phases = 2 if getattr(net, "activation", "relu") == "relu" else 1
        total = phases * self.per_phase * self.per_eval
        self.name: str | None = None
        if total > 10:
            print(
                f"gradcheck: about {phases * self.per_phase:,} loss evaluations of "
                f"{self.per_eval * 1e3:.3g} ms each: estimated duration {format_duration(total)}",
                flush=True,
            )
        if total > MAX_HOURS * 3600 and not force:
            raise ConfigError(
                f"gradcheck would take about {format_duration(total)} ({phases * self.per_phase:,} "
                "loss evaluations): use a smaller --input-size or --hidden, or pass --force to "
                "run it anyway"
            )

    def phase(self, name: str | None) -> None:
        self.name = name
        self.done = 0
        self.started = self.last = self._clock()

    def tick(self) -> None:
        self.done += 1
        if self.name is None:
            return
        now = self._clock()
        if now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        share = min(self.done / self.per_phase, 1.0)
        left = (now - self.started) / max(share, 1e-9) * (1 - share)
        print(
            f"gradcheck: {self.name}: {self.done:,} of {self.per_phase:,} loss evaluations "
            f"({share:.0%}), about {self._format(left)} left",
            flush=True,
        )
