"""Model files: our ``.npz`` format, and the book's pickled weights read safely.

A scratchdl model file is a plain ``.npz`` (read with ``allow_pickle=False``) holding one array
per parameter under ``param/<name>`` and a JSON architecture record, stored as UTF-8 bytes in a
``uint8`` array under ``__scratchdl__``, so nothing in it can run code.

The book's weights (``sample_weight.pkl``) are pickles, and ``pickle.load`` runs whatever a file
names. :func:`load_book_weights` uses an unpickler that resolves only NumPy's array
reconstruction globals; any other global is refused before anything runs.
"""

from __future__ import annotations

import io as _io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchdl import __version__
from scratchdl._fs import atomic_path
from scratchdl.errors import ConfigError, ModelFileError
from scratchdl.nets import MultiLayerNet, Net, SimpleNet, TwoLayerNet

__all__ = ["FORMAT", "load_book_weights", "load_model", "read_book_pickle", "save_model"]

FORMAT = "scratchdl-model"
FORMAT_VERSION = 1
_RECORD_KEY = "__scratchdl__"
_PARAM_PREFIX = "param/"


def _arch_record(net: Net) -> dict[str, Any]:
    if callable(getattr(net, "config", None)):
        arch = net.config()  # the layered nets' architecture record
    elif isinstance(net, SimpleNet):
        arch = {"class": "SimpleNet", "dtype": net.dtype.name}
    else:
        raise ConfigError(
            f"save_model cannot save a {type(net).__name__}: it has no architecture record"
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchdl_version": __version__,
        "arch": arch,
        "params": list(net.params),
    }


def save_model(
    net: Net, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """Save ``net`` to ``path`` (a ``.npz``) atomically.

    Parameters
    ----------
    net : Net
        A :class:`~scratchdl.nets.MultiLayerNet`, :class:`~scratchdl.nets.TwoLayerNet` or
        :class:`~scratchdl.nets.SimpleNet`.
    path : path-like
        Destination; an existing file is replaced only once the new one is complete.
    metadata : dict, optional
        Extra JSON-serialisable information (training config, accuracy, ...).

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    record = _arch_record(net)
    if metadata:
        record["metadata"] = metadata
    try:
        blob = json.dumps(record).encode("utf-8")
    except TypeError as exc:
        raise ConfigError(f"model metadata must be JSON-serialisable: {exc}") from None
    arrays = {_RECORD_KEY: np.frombuffer(blob, dtype=np.uint8)}
    for key, value in net.params.items():
        arrays[_PARAM_PREFIX + key] = value
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _build(arch: dict[str, Any]) -> Net:
    cls = arch.get("class")
    dtype = arch.get("dtype", "float32")
    if cls in ("MultiLayerNet", "TwoLayerNet"):
        hidden = list(arch["hidden_size_list"])
        common = {
            "activation": arch.get("activation", "relu"),
            "weight_init_std": arch.get("weight_init_std", 0.01),
            "weight_decay_lambda": arch.get("weight_decay_lambda", 0.0),
            "dtype": dtype,
        }
        if cls == "TwoLayerNet" and len(hidden) == 1:
            return TwoLayerNet(arch["input_size"], hidden[0], arch["output_size"], **common)
        return MultiLayerNet(arch["input_size"], hidden, arch["output_size"], **common)
    if cls == "SimpleNet":
        return SimpleNet(dtype=dtype)
    raise ModelFileError(f"unknown network class {cls!r} in the model file")


def load_model(path: str | os.PathLike[str]) -> Net:
    """Load a network saved by :func:`save_model`; the parameters come back bit for bit.

    Raises
    ------
    ModelFileError
        If the file is missing, is not a ``.npz``, is damaged, or is not a scratchdl model.
    """
    path = Path(path)
    if path.is_dir():
        inside = path / "model.npz"
        hint = f"give {inside}" if inside.is_file() else "give the model file inside it"
        raise ModelFileError(f"{path} is a folder, not a model file: {hint}")
    if not path.is_file():
        raise ModelFileError(
            f"model file {path} does not exist: check the path, or train one first ('scratchdl train' writes run/model.npz)"
        )
    hint = f"{path} is not a scratchdl model"
    if path.suffix == ".pkl":
        hint += " (for the book's .pkl weights use 'scratchdl import-weights' or load_book_weights)"
    if not zipfile.is_zipfile(path):
        # Checked first: np.load would otherwise try to unpickle it and suggest doing so unsafely.
        raise ModelFileError(
            f"{hint}: it is not a .npz archive (damaged, truncated or another kind of file); "
            "save the model again with save_model or 'scratchdl train'"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = set(npz.files)
            if _RECORD_KEY not in files:
                raise ModelFileError(f"{hint}: it has no scratchdl architecture record")
            record = json.loads(npz[_RECORD_KEY].tobytes().decode("utf-8"))
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise ModelFileError(f"{hint}: its record is not a {FORMAT} record")
            if record.get("format_version", 0) > FORMAT_VERSION:
                raise ModelFileError(
                    f"{path} was written by a newer scratchdl (format "
                    f"{record['format_version']}); upgrade scratchdl to read it"
                )
            net = _build(record["arch"])
            for key in net.params:
                name = _PARAM_PREFIX + key
                if name not in files:
                    raise ModelFileError(f"{path} is damaged: parameter {key} is missing")
                value = npz[name]
                if value.shape != net.params[key].shape or value.dtype != net.params[key].dtype:
                    raise ModelFileError(
                        f"{path} is damaged: parameter {key} has {value.dtype}{value.shape}, the "
                        f"architecture needs {net.params[key].dtype}{net.params[key].shape}"
                    )
                net.params[key] = value
    except ModelFileError:
        raise
    except (
        zipfile.BadZipFile,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        UnicodeDecodeError,
        json.JSONDecodeError,
    ) as exc:
        raise ModelFileError(
            f"{path} cannot be read as a model file ({type(exc).__name__}: {exc}); it is damaged or "
            "not a .npz: save it again with save_model or 'scratchdl train'"
        ) from None
    net.metadata = record.get("metadata", {})
    return net


# -- the book's pickles ---------------------------------------------------------------------


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _numpy_frombuffer():
    try:
        from numpy._core.numeric import _frombuffer  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.numeric import _frombuffer
    return _frombuffer


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles store array bytes as text plus ``_codecs.encode(text, 'latin1')``.
    if encoding not in ("latin1", "latin-1"):
        raise ModelFileError(f"refused to load: the pickle asks to encode text as {encoding!r}")
    return text.encode("latin1")


_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): lambda: _latin1_encode,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can build NumPy arrays in plain containers and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise ModelFileError(
                f"refused to load: the pickle asks for {module}.{name}, and only NumPy arrays in "
                "dicts are allowed (a weight file never needs anything else; this file may be "
                "malicious)"
            )
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise ModelFileError(
            "refused to load: the pickle uses persistent ids, which weight files never need"
        )


def read_book_pickle(path: str | os.PathLike[str]) -> dict[str, NDArray]:
    """Read a pickled ``{name: ndarray}`` dict without letting it run code.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, names any global other than NumPy's array
        reconstruction, or does not hold a dict of numeric arrays.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder: give the .pkl weight file")
    if not path.is_file():
        raise ModelFileError(f"weight file {path} does not exist: check the path")
    if zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is a .npz archive, not the book's pickle: if it is a scratchdl model, use it "
            "as it is (scratchdl evaluate / load_model); there is nothing to import"
        )
    data = path.read_bytes()
    try:
        obj = _ArrayOnlyUnpickler(_io.BytesIO(data)).load()
    except ModelFileError:
        raise
    except Exception as exc:  # any unpickling failure of a damaged file  # noqa: BLE001
        raise ModelFileError(
            f"{path} is not a readable weight pickle ({type(exc).__name__}: {exc}); it is damaged or "
            "truncated: download it again"
        ) from None
    if not isinstance(obj, dict) or not obj:
        raise ModelFileError(f"{path} must hold a dict of arrays, it holds {type(obj).__name__}")
    for key, value in obj.items():
        if (
            not isinstance(key, str)
            or not isinstance(value, np.ndarray)
            or value.dtype.kind not in "fiu"
        ):
            raise ModelFileError(
                f"{path} must hold a dict of numeric arrays; entry {key!r} is {type(value).__name__}"
            )
    return obj


def load_book_weights(
    path: str | os.PathLike[str], activation: str = "sigmoid", dtype: str = "float32"
) -> MultiLayerNet:
    """Load the book's pickled weights (``W1, b1, W2, b2, ...``) as a ready network.

    The layer sizes are read from the weight shapes, so ``sample_weight.pkl`` gives the
    chapter 3 network 784-50-100-10 with sigmoid activations and a softmax output.

    Parameters
    ----------
    path : path-like
        The ``.pkl`` file.
    activation : {'sigmoid', 'relu'}
        Hidden activation the weights were trained with (the book's sample uses sigmoid).
    dtype : {'float32', 'float64'}
    """
    weights = read_book_pickle(path)
    n_layers = sum(1 for k in weights if k.startswith("W"))
    expected = {f"{p}{i}" for i in range(1, n_layers + 1) for p in "Wb"}
    if n_layers == 0 or set(weights) != expected:
        raise ModelFileError(f"{path} must hold W1, b1, ..., Wn, bn; it holds {sorted(weights)}")
    sizes = [weights["W1"].shape[0]] if weights["W1"].ndim == 2 else []
    for i in range(1, n_layers + 1):
        W, b = weights[f"W{i}"], weights[f"b{i}"]
        if W.ndim != 2 or not sizes or W.shape[0] != sizes[-1] or b.shape != (W.shape[1],):
            raise ModelFileError(
                f"{path}: W{i} {W.shape} and b{i} {b.shape} do not chain into a network"
            )
        sizes.append(W.shape[1])
    net = MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], activation=activation, dtype=dtype)
    for key, value in weights.items():
        net.params[key] = value
    return net
