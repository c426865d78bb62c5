"""Up-front resource checks for the commands: refuse a run that cannot fit, before it starts.

``train --hidden 100000`` would otherwise allocate for minutes and then die with a
MemoryError (or take the machine into swap). One estimate serves every command and model kind
(:func:`network_estimate`, from the network's architecture record, the batch size and the
dataset size): the data, the parameters with their gradients, optimizer state and saved copies,
and the activations at the peak of a training step (or of an evaluation chunk). They are
estimates, stated as such; ``--force`` runs anyway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchdl.errors import ConfigError

#: Python, NumPy, matplotlib and the interpreter's own memory: 72 MiB measured after the
#: imports of ``scratchdl train``, rounded up for the figure it draws at the end.
BASELINE_BYTES = 100 * 2**20

#: Optimizer state arrays per parameter (see scratchdl.optimizers).
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}

#: Input features and classes of the datasets ``train`` and ``evaluate`` read.
DATASET_SHAPES = {"mnist": (60000, 10000, 784, 10), "fashion": (60000, 10000, 784, 10)}


def available_memory() -> int | None:
    """Bytes the system can give a new process without swapping (None when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1.5 GiB``, ``320 MiB``: what a person reads at once."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"


# -- the one estimate: a network's architecture record -> bytes ---------------------------------
#
# A network is described by its architecture record (what model files store: the class name
# and ``net.config()``; :func:`architecture` makes it from a ``TrainConfig`` without building
# anything). Walking its layers gives, per sample, the bytes each layer keeps from forward for
# backward (the im2col column matrix, ReLU masks, pooling's winners, Affine's input), the
# largest short-lived arrays of one layer's forward or backward (its output, dout and dx, the
# column gradient), and the parameter count. Floats take ``itemsize`` bytes, masks and winner
# indices one. The layers' own code may change (faster paths); the benchmark
# ``benchmarks/bench_memory.py`` says whether the plan still holds within 30%.


class _Plan:
    """Per-sample bytes of a network's layers (see the comment above)."""

    def __init__(self) -> None:
        self.params = 0  # parameter values
        self.keep_train = 0  # bytes per sample kept by forward for backward (training)
        self.keep_eval = 0  # the same in a test-mode forward (predict)
        self.peak_train = 0  # largest transient of one layer, forward or backward
        self.peak_eval = 0  # largest transient of one layer's test-mode forward
        self.fixed = 0  # bytes whatever the batch (a convolution's reused scratch buffers)
        # Per convolution, per sample: its column matrix and the one of dx (0 for the first
        # layer), which several BLAS threads keep or build in large chunks (see
        # :func:`training_activations`).
        self.conv_columns: list[tuple[int, int]] = []

    def layer(
        self,
        keep: int,
        fwd: int,
        bwd: int,
        params: int = 0,
        keep_eval: int | None = None,
        fixed: int = 0,
    ) -> None:
        self.params += params
        self.fixed += fixed
        self.keep_train += keep
        self.keep_eval += keep if keep_eval is None else keep_eval
        self.peak_train = max(self.peak_train, fwd, bwd)
        self.peak_eval = max(self.peak_eval, fwd)


def _conv_plan(
    plan: _Plan, shape: tuple[int, int, int], conv: dict[str, int], f: int, first: bool
) -> tuple[int, int, int]:
    """Convolution + ReLU; returns the output shape (FN, out_h, out_w)."""
    C, H, W = shape
    fn, fs, pad, stride = conv["filter_num"], conv["filter_size"], conv["pad"], conv["stride"]
    oh, ow = (H + 2 * pad - fs) // stride + 1, (W + 2 * pad - fs) // stride + 1
    P, K = oh * ow, C * fs * fs
    x_in, out = C * H * W * f, P * fn * f
    # The layer keeps its input (the previous layer's output: not the images for the first)
    # and its column matrix when that is at most KEEP_BYTES. Larger ones are built in
    # chunks (for im2col and, in backward, for dx) in buffers the layer keeps: about
    # CHUNK_BYTES each, or a MAX_CHUNKS-th of the batch's matrix. forward: the output;
    # backward: dout's copy and dx (none for the first layer).
    from scratchdl.layers import CHUNK_BYTES, KEEP_BYTES, MAX_CHUNKS

    col = P * K * f
    plan.conv_columns.append((col, 0 if first else H * W * fs * fs * fn * f))
    kept = (0 if first else x_in) + 2 * col // MAX_CHUNKS
    bwd = out + (0 if first else x_in)
    plan.layer(kept, out, bwd, fn * K + fn, fixed=KEEP_BYTES + 2 * CHUNK_BYTES)
    plan.layer(P * fn, out * 2 + P * fn, out * 2)  # ReLU: the mask kept, the output
    return fn, oh, ow


def _pool_plan(plan: _Plan, shape: tuple[int, int, int], f: int) -> tuple[int, int, int]:
    """2x2 max pooling with stride 2: the winner of each window kept (one byte)."""
    C, H, W = shape
    out = C * (H // 2) * (W // 2)
    plan.layer(out, C * H * W * f + out * (f + 1), out * f + C * H * W * f)
    return C, H // 2, W // 2


def _affine_plan(plan: _Plan, d_in: int, d_out: int, f: int, first: bool) -> None:
    # Affine keeps its input (the array the previous layer returned) for dW = x.T @ dout.
    bwd = d_out * f + (0 if first else d_in * f)
    plan.layer(d_in * f, d_in * f + d_out * f, bwd, d_in * d_out + d_out)


def _activation_plan(plan: _Plan, d: int, f: int, activation: str) -> None:
    kept = d if activation == "relu" else d * f  # ReLU: a mask; Sigmoid: its output
    plan.layer(kept, d * f * 2 + kept, d * f * 2)


#: Network classes whose architecture record :func:`network_plan` reads.
KNOWN_CLASSES = ("TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet")
KNOWN_CLASSES += ("DeepConvNet",)


def network_plan(arch: dict[str, Any], itemsize: int) -> _Plan:
    """The per-sample memory plan of the network an architecture record describes."""
    f = itemsize
    plan = _Plan()
    cls = arch.get("class")
    if cls in ("SimpleConvNet", "DeepConvNet"):
        shape = tuple(int(s) for s in arch["input_dim"])
        plan.layer(0, 0, 0)
        if cls == "SimpleConvNet":
            convs, pools = [arch["conv_param"]], {0}
        else:
            convs = [arch[f"conv_param_{i}"] for i in range(1, 7)]
            pools = {1, 3, 5}
        for i, conv in enumerate(convs):
            shape = _conv_plan(plan, shape, conv, f, first=i == 0)  # type: ignore[arg-type]
            if i in pools:
                shape = _pool_plan(plan, shape, f)  # type: ignore[arg-type]
        flat, hidden, out = shape[0] * shape[1] * shape[2], arch["hidden_size"], arch["output_size"]
        _affine_plan(plan, flat, hidden, f, first=False)
        _activation_plan(plan, hidden, f, "relu")
        if cls == "DeepConvNet":  # Dropout after both affine layers: a mask, a float draw
            plan.layer(hidden, hidden * f * 3, hidden * f * 2, keep_eval=0)
        _affine_plan(plan, hidden, out, f, first=False)
        if cls == "DeepConvNet":
            plan.layer(out, out * f * 3, out * f * 2, keep_eval=0)
        sizes = [flat, hidden, out]
    else:
        # TwoLayerNet records its one hidden layer as hidden_size, the others a list.
        hidden = arch.get("hidden_size_list") or [arch["hidden_size"]]
        sizes = [arch["input_size"], *hidden, arch["output_size"]]
        batchnorm, dropout = arch.get("use_batchnorm"), arch.get("use_dropout")
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
            _affine_plan(plan, a, b, f, first=i == 0)
            if i == len(sizes) - 2:
                break
            if batchnorm:  # keeps the normalised input; forward holds x - mu and its square
                plan.layer(b * f, b * f * 4, b * f * 4, params=2 * b)
            _activation_plan(plan, b, f, arch.get("activation", "relu"))
            if dropout:
                plan.layer(b, b * f * 3, b * f * 2, keep_eval=0)
    # SoftmaxWithLoss keeps the probabilities; the log-softmax and the gradient are transient.
    plan.layer(sizes[-1] * f, sizes[-1] * f * 3, sizes[-1] * f * 2)
    return plan


def training_activations(plan: _Plan, batch_size: int, blas_threads: int | None = None) -> int:
    """Bytes of activations live at the peak of a training step of ``batch_size`` rows.

    The caches one and a half times: a layer drops its previous step's cache only when it
    stores the new one, so part of both are alive during the forward pass; then the largest
    transient of one layer. (Calibrated on the peak resident memory of ``scratchdl train``
    for both CNNs at batches 100 and 1000, ``benchmarks/bench_memory.py``: the caches once
    fell up to 21% short of it, twice went 27% over.) ``blas_threads``: the BLAS thread
    count the step runs with (None: the count now), see :func:`threaded_columns`.
    """
    one_thread = batch_size * (3 * plan.keep_train // 2 + plan.peak_train) + plan.fixed
    return one_thread + threaded_columns(plan, batch_size, blas_threads)


def threaded_columns(
    plan: _Plan, batch_size: int, blas_threads: int | None = None, *, training: bool = True
) -> int:
    """Bytes the convolutions add when the BLAS runs on several threads (0 on one, as the
    Trainer's loop runs): a training pass keeps a column matrix of up to THREADED_KEEP_BYTES
    for backward, and the chunks are up to THREADED_CHUNK_BYTES (more for dx's columns, which
    have FN channels where x has C). (Measured with tracemalloc at two threads: DeepConvNet
    235 MB at batch 100 against 48 MB at one thread.) A prediction (``training=False``)
    keeps nothing and has no dx: one chunk buffer per convolution."""
    from scratchdl import layers

    several = layers._several_blas_threads() if blas_threads is None else blas_threads > 1
    if not several:
        return 0
    extra = 0
    for col, dcol in plan.conv_columns:
        whole = batch_size * col
        if whole <= layers.KEEP_BYTES:
            continue  # built whole and kept at any thread count (counted in the plan)
        extra += min(whole, layers.THREADED_CHUNK_BYTES)
        if training:
            extra += whole if whole <= layers.THREADED_KEEP_BYTES else 0
            extra += min(batch_size * dcol, 2 * layers.THREADED_CHUNK_BYTES)
    return extra


def architecture(config: Any, input_size: int = 784, n_classes: int = 10) -> dict[str, Any]:
    """The architecture record (as a model file's) of the network a ``TrainConfig``
    describes, without building it (see :func:`scratchdl.choices.build_model`)."""
    from scratchdl.nets import DEEP_CONV_PARAMS

    model = getattr(config, "model", "mlp")
    side = int(round(input_size**0.5))
    if model == "cnn":
        conv = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        return {
            "class": "SimpleConvNet",
            "input_dim": [1, side, side],
            "conv_param": conv,
            "hidden_size": config.hidden[0],
            "output_size": n_classes,
        }
    if model == "deep-cnn":
        return {
            "class": "DeepConvNet",
            "input_dim": [1, side, side],
            **{f"conv_param_{i + 1}": dict(p) for i, p in enumerate(DEEP_CONV_PARAMS)},
            "hidden_size": config.hidden[0],
            "output_size": n_classes,
        }
    arch: dict[str, Any] = {
        "class": "MultiLayerNet",
        "input_size": input_size,
        "hidden_size_list": list(config.hidden),
        "output_size": n_classes,
        "activation": config.activation,
    }
    batchnorm = bool(getattr(config, "batchnorm", False))
    dropout = bool(getattr(config, "dropout", 0.0))
    if batchnorm or dropout:
        arch.update({"class": "MultiLayerNetExtend", "use_batchnorm": batchnorm})
        arch["use_dropout"] = dropout
    elif len(config.hidden) == 1:
        arch["class"] = "TwoLayerNet"
        arch["hidden_size"] = arch.pop("hidden_size_list")[0]
    return arch


def network_estimate(
    arch: dict[str, Any],
    itemsize: int,
    batch_size: int,
    eval_rows: int,
    n_samples: int,
    optimizer: str | None = "sgd",
    *,
    background_evaluation: bool = False,
) -> tuple[int, dict[str, int]]:
    """Peak bytes of training (``optimizer`` given) or evaluating (``optimizer=None``) the
    network of ``arch``; also the parts of the estimate.

    Parameters
    ----------
    arch : dict
        Architecture record, as a model file keeps it (``{"class": type(net).__name__,
        **net.config()}``) or :func:`architecture` makes it.
    itemsize : int
        Bytes per value (4 for float32).
    batch_size : int
        Training mini-batch rows (ignored when evaluating).
    eval_rows : int
        Rows per evaluation forward pass (:func:`scratchdl.nets.predict_in_chunks`).
    n_samples : int
        Samples of the dataset held in memory (train and test), as floats.
    optimizer : str or None
        Its state arrays per parameter count (:data:`OPTIMIZER_STATES`).
    background_evaluation : bool
        A copy of the network is evaluated on a second thread while training goes on (what
        ``scratchdl train`` does on more than one core).
    """
    plan = network_plan(arch, itemsize)
    features = int(arch.get("input_size") or np.prod(arch.get("input_dim") or [0]))
    f = itemsize
    evaluating = eval_rows * (plan.keep_eval + plan.peak_eval) + plan.fixed
    evaluating += threaded_columns(plan, eval_rows, training=False)  # with the BLAS's threads
    parts = {"data": n_samples * features * f}
    if optimizer is None:
        parts["parameters"] = plan.params * f
        parts["activations"] = evaluating
    else:
        # weights, gradients, optimizer state, the last good weights, the checkpoint's copy
        copies = 4 + OPTIMIZER_STATES.get(optimizer, 2)
        # Training loops run with one BLAS thread (the Trainer's BlasThreads(1), a sweep's
        # workers): the convolutions' one-thread policy.
        training = training_activations(plan, batch_size, 1) + batch_size * features * f
        if background_evaluation:
            # A copy of the network is evaluated in chunks on the second thread meanwhile.
            copies += 1
            training += evaluating
        else:
            training = max(training, evaluating)
        parts["parameters"] = plan.params * f * copies
        parts["activations"] = training
    parts["interpreter"] = BASELINE_BYTES
    return sum(parts.values()), parts


def train_estimate_for(
    config: Any, *, background_evaluation: bool | None = None
) -> tuple[int, dict[str, int]]:
    """:func:`network_estimate` of ``scratchdl train`` with ``config`` (a ``TrainConfig``)."""
    if background_evaluation is None:
        background_evaluation = (os.cpu_count() or 1) > 1
    return _config_estimate(config, *DATASET_SHAPES[config.dataset], background_evaluation)


def _config_estimate(
    config: Any, n_train: int, n_test: int, features: int, classes: int, background: bool = False
) -> tuple[int, dict[str, int]]:
    """:func:`network_estimate` of training the network of ``config`` (a ``TrainConfig``) on
    ``n_train`` + ``n_test`` samples of ``features`` values in ``classes`` classes."""
    from scratchdl.nets import EVAL_BATCH, ConvNet

    arch = architecture(config, features, classes)
    eval_batch = ConvNet.eval_batch_size if "input_dim" in arch else EVAL_BATCH  # CNNs cap it
    return network_estimate(
        arch,
        np.dtype(config.dtype).itemsize,
        config.batch_size,
        min(n_train, eval_batch),
        n_train + n_test,
        config.optimizer,
        background_evaluation=background,
    )


def sweep_estimate(
    trials: Sequence[Any], data: dict[str, int], workers: int
) -> tuple[int, dict[str, int]]:
    """Peak bytes of a sweep: the parent holding the data, and ``workers`` processes each
    holding the data and training the largest of ``trials`` (their ``train`` settings: a
    ``TrainConfig`` or a dict of its fields)."""
    from scratchdl.train import TrainConfig

    n_train, n_test = int(data["n_train"]), int(data["n_test"])
    features, classes = int(data["features"]), int(data["classes"])
    largest: tuple[int, dict[str, int]] = (0, {})
    for train in trials:
        config = train if isinstance(train, TrainConfig) else TrainConfig(**train)
        one = _config_estimate(config, n_train, n_test, features, classes)
        largest = max(largest, one, key=lambda e: e[0])
    data_bytes = (n_train + n_test) * features * 4
    parts = {
        "the sweep's data": data_bytes + BASELINE_BYTES,
        f"{workers} worker(s), each with the largest trial": workers * largest[0],
    }
    return sum(parts.values()), parts


def evaluate_estimate(net: Any, n_samples: int) -> tuple[int, dict[str, int]]:
    """:func:`network_estimate` of evaluating the loaded ``net`` on ``n_samples`` images."""
    from scratchdl.nets import EVAL_BATCH

    rows = min(EVAL_BATCH, getattr(net, "eval_batch_size", EVAL_BATCH), max(n_samples, 1))
    arch = {"class": type(net).__name__, **net.config()} if hasattr(net, "config") else {}
    if arch.get("class") in KNOWN_CLASSES:
        return network_estimate(arch, net.dtype.itemsize, 1, rows, n_samples, None)
    # Another network (the book's SimpleNet): its parameters, and each weight's output width
    # for a few arrays per row.
    params = list(net.params.values())
    itemsize = params[0].dtype.itemsize if params else 4
    widths = sum(int(p.shape[-1]) for p in params if p.ndim == 2)
    parts = {
        "parameters": sum(p.nbytes for p in params),
        "data": n_samples * int(getattr(net, "input_size", 0)) * itemsize,
        "activations": 3 * rows * widths * itemsize,
        "interpreter": BASELINE_BYTES,
    }
    return sum(parts.values()), parts


def check_model_memory(command: str, net: Any, n_samples: int, fix: str, force: bool) -> None:
    """Refuse, before any data is loaded, a model whose evaluation on ``n_samples`` images
    cannot fit in memory (:func:`evaluate_estimate`, :func:`check_memory`)."""
    estimate, parts = evaluate_estimate(net, n_samples)
    check_memory(command, estimate, parts, fix, force)


def gradcheck_estimate(arch: dict[str, Any], samples: int) -> tuple[int, dict[str, int]]:
    """Peak bytes of ``gradcheck``: float64 copies of the net, two gradients of each kind."""
    plan = network_plan(arch, 8)
    parts = {
        "parameters": plan.params * 8 * 6,
        "activations": training_activations(plan, samples),
        "interpreter": BASELINE_BYTES,
    }
    return sum(parts.values()), parts


def check_memory(command: str, estimate: int, parts: dict[str, int], fix: str, force: bool) -> None:
    """Refuse (ConfigError) when ``estimate`` exceeds the memory available, unless ``force``."""
    available = available_memory()
    if force or available is None or estimate <= available:
        return
    detail = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items() if n)
    raise ConfigError(
        f"{command} would need about {format_bytes(estimate)} of memory ({detail}), and this "
        f"machine has {format_bytes(available)} available: {fix}, or pass --force to try anyway"
    )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``4.2 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = [
    "BASELINE_BYTES",
    "available_memory",
    "check_memory",
    "format_bytes",
    "format_duration",
    "gradcheck_estimate",
    "architecture",
    "evaluate_estimate",
    "network_estimate",
    "network_plan",
    "sweep_estimate",
    "train_estimate_for",
    "training_activations",
]
