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
import math
import os
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from scratchdl import __version__
from scratchdl._fs import atomic_path
from scratchdl._npz import (
    MAX_BYTES_ENV,
    ArrayInfo,
    array_json,
    inspect_npz,
    json_array,
    max_bytes_limit,
)
from scratchdl.checks import check_choice, is_int
from scratchdl.errors import ConfigError, ModelFileError, ShapeError
from scratchdl.nets import NET_CLASSES, DeepConvNet, MultiLayerNet, Net, SimpleConvNet, TwoLayerNet

__all__ = [
    "BOOK_MODELS",
    "FORMAT",
    "MAX_BYTES_ENV",
    "check_model_file",
    "load_book_weights",
    "load_model",
    "read_book_param_list",
    "read_book_pickle",
    "save_model",
]

FORMAT = "scratchdl-model"
FORMAT_VERSION = 1
_RECORD_KEY = "__scratchdl__"
_PARAM_PREFIX = "param/"
_STATE_PREFIX = "state/"


def _forged(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path} is damaged or forged: {what}")


def save_model(
    net: Net, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """Save ``net`` to ``path`` (a ``.npz``) atomically.

    Parameters
    ----------
    net : Net
        A network of a class in :data:`~scratchdl.nets.NET_CLASSES`; the record keeps its
        class and ``config()``, the arrays its :meth:`~scratchdl.nets.Net.state_dict` (but the
        generators).
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
    name = type(net).__name__
    if NET_CLASSES.get(name) is not type(net):
        raise ConfigError(
            f"save_model cannot save a {name}: it saves {', '.join(NET_CLASSES)}, which "
            "load_model can build again"
        )
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchdl_version": __version__,
        # The class and its constructor's keyword arguments: load_model calls cls(**config).
        "arch": {"class": name, **net.config()},
        "params": list(net.params),
    }
    if metadata:
        record["metadata"] = metadata
    try:
        arrays = {_RECORD_KEY: json_array(record)}
    except TypeError as exc:
        raise ConfigError(f"model metadata must be JSON-serialisable: {exc}") from None
    state = net.state_dict()
    arrays |= {_PARAM_PREFIX + k: v for k, v in state["params"].items()}
    # BatchNormalization's running statistics; a model file keeps no generators.
    arrays |= {_STATE_PREFIX + k: v for k, v in state["layers"].items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _class_and_config(arch: dict[str, Any], path: Path) -> tuple[type[Net], dict[str, Any]]:
    """The network class a record names and its constructor's keyword arguments."""
    config = dict(arch)
    name = config.pop("class")
    cls = NET_CLASSES.get(name)
    if cls is None:
        raise ModelFileError(
            f"{path} names an unknown network class {name!r}: this scratchdl builds "
            f"{', '.join(NET_CLASSES)}"
        )
    if cls is TwoLayerNet and "hidden_size_list" in config:
        # Older files kept TwoLayerNet's one hidden layer as MultiLayerNet does: [size].
        (config["hidden_size"],) = config.pop("hidden_size_list")
    return cls, config


def load_model(path: str | os.PathLike[str], max_bytes: int | None = None) -> Net:
    """Load a network saved by :func:`save_model`; the parameters come back bit for bit.

    The file is checked before anything is allocated (:func:`check_model_file`): a file from
    someone else can be refused, never run code or exhaust memory.

    Parameters
    ----------
    path : path-like
        The ``.npz`` model file.
    max_bytes : int, optional
        Largest total parameter size accepted, in bytes. Default: 1 GiB, or the environment
        variable ``SCRATCHDL_MAX_MODEL_BYTES``.

    Raises
    ------
    ModelFileError
        If the file is missing, is not a ``.npz``, is damaged, is not a scratchdl model, claims
        more than ``max_bytes``, disagrees with its own record, or holds NaN or infinite weights.
    """
    path = Path(path)
    record, _ = check_model_file(path, max_bytes)
    cls, config = _class_and_config(record["arch"], path)
    try:
        net = cls(**config)
    except (TypeError, ValueError, ConfigError, ShapeError) as exc:
        raise _forged(path, f"its record does not describe a {cls.__name__} ({exc})") from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {
                section: {n[len(prefix) :]: npz[n] for n in npz.files if n.startswith(prefix)}
                for section, prefix in (("params", _PARAM_PREFIX), ("layers", _STATE_PREFIX))
            }
        net.load_state_dict(state)
    except ShapeError as exc:
        raise ModelFileError(
            f"{path} is damaged: {exc}; the architecture in its record needs another shape"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path} cannot be read as a model file ({type(exc).__name__}: {exc}); it is damaged or "
            "not a .npz: save it again with save_model or 'scratchdl train'"
        ) from None
    for key, value in net.params.items():
        if not np.all(np.isfinite(value)):
            raise ModelFileError(
                f"{path} holds NaN or infinite values in parameter {key}: the run that wrote it "
                "diverged or the file was altered; train the model again"
            )
    net.metadata = record.get("metadata", {})
    return net


# -- checking a model file before loading it --------------------------------------------------


def _check_record(record: Any, path: Path) -> dict[str, Any]:
    """The JSON record, with every field the loader reads of the type it needs."""

    def bad(field: str, value: Any, want: str) -> ModelFileError:
        return _forged(path, f"its record has {field} = {value!r}, expected {want}")

    if isinstance(record, dict) and record.get("format") == WORD_VECTORS_FORMAT:
        raise ModelFileError(
            f"{path} holds word vectors (scratchdl nlp cbow), not a network: use it with "
            f"scratchdl nlp most-similar WORD --model {path}"
        )
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is not a scratchdl model: its record is not a {FORMAT} record"
        )
    version = record.get("format_version", 0)
    if not is_int(version) or version < 0:
        raise bad("format_version", version, "a whole number")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by a newer scratchdl (format {version}); upgrade scratchdl to "
            "read it"
        )
    arch = record.get("arch")
    if not isinstance(arch, dict):
        raise bad("arch", arch, "an object describing the network")
    if not isinstance(arch.get("class"), str):
        raise bad("arch.class", arch.get("class"), "a network class name")
    if arch.get("dtype", "float32") not in ("float32", "float64"):
        raise bad("arch.dtype", arch.get("dtype"), "'float32' or 'float64'")
    params = record.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise bad("params", params, "a list of parameter names")
    if "metadata" in record and not isinstance(record["metadata"], dict):
        raise bad("metadata", record["metadata"], "an object")
    return record


def _integers(value: Any, where: str) -> list[tuple[str, int]]:
    """Every integer in a JSON value, with where it is (``arch.conv_param.filter_num``)."""
    if is_int(value):
        return [(where, value)]
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _integers(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _integers(v, f"{where}[{i}]")]
    return []


def check_model_file(
    path: str | os.PathLike[str], max_bytes: int | None = None
) -> tuple[dict[str, Any], dict[str, ArrayInfo]]:
    """Check a model file from its headers and record alone, before any array is allocated.

    Reads the zip directory, each ``.npy`` header and the JSON record, and refuses: arrays that
    would take more than ``max_bytes`` (default 1 GiB, or ``$SCRATCHDL_MAX_MODEL_BYTES``),
    headers that disagree with the stored data, object arrays, a record with fields of the
    wrong type, and parameters whose shapes or dtype disagree with the record.

    Returns
    -------
    record, arrays
        The parsed record and ``{member: ArrayInfo}``.

    Raises
    ------
    ModelFileError
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
    arrays = inspect_npz(path, max_bytes, what="scratchdl model file")
    info = arrays.get(_RECORD_KEY)
    if info is None:
        raise ModelFileError(f"{path} is not a scratchdl model: it has no architecture record")
    if info.dtype != np.uint8 or len(info.shape) != 1:
        raise _forged(path, "its record is not UTF-8 bytes")
    try:
        with np.load(path, allow_pickle=False) as npz:
            blob = npz[_RECORD_KEY]
        record = array_json(blob)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"{path} is damaged: its record cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    record = _check_record(record, path)
    arch = record["arch"]
    declared = {_PARAM_PREFIX + name for name in record["params"]}
    present = {name for name in arrays if name.startswith(_PARAM_PREFIX)}
    # Besides the record and the parameters, a model holds only layer state (BatchNorm's
    # running statistics, ``state/...``), whose shapes the network checks when it is set.
    stray = sorted(
        n for n in arrays if n != _RECORD_KEY and not n.startswith((_PARAM_PREFIX, _STATE_PREFIX))
    )
    if stray:
        raise _forged(path, f"it holds {', '.join(stray)}, which no scratchdl model has")
    if declared != present:
        raise ModelFileError(
            f"{path} is damaged or forged: its record lists parameters "
            f"{sorted(record['params'])} but it holds {sorted(n[len(_PARAM_PREFIX) :] for n in present)}"
        )
    # Any size in the record (a width, a filter count, an image side) is at most the number of
    # parameter values the file holds: a forged size of 1e9 is refused before the network
    # is built, with a message naming it (the shapes below would refuse it too).
    n_values = sum(int(np.prod(arrays[name].shape)) for name in present)
    for field, value in _integers(arch, "arch"):
        if value > max(n_values, 1):
            raise ModelFileError(
                f"{path} is damaged or forged: its record has {field} = {value}, more than the "
                f"{n_values} parameter values the file holds"
            )
    dtype = np.dtype(arch.get("dtype", "float32"))
    cls, config = _class_and_config(arch, path)
    try:
        expected = cls.param_shapes(config)
    except (ConfigError, TypeError, ValueError) as exc:
        raise _forged(path, f"its record's architecture does not fit together ({exc})") from None
    for name in record["params"]:
        got = arrays[_PARAM_PREFIX + name]
        if got.dtype != dtype:
            raise _forged(path, f"parameter {name} is {got.dtype}, its record says {dtype}")
        if expected.get(name) != got.shape:
            want = expected.get(name, "no such parameter")
            raise ModelFileError(
                f"{path} is damaged or forged: parameter {name} has shape {got.shape}, its "
                f"record's architecture needs {want}"
            )
    if set(expected) != set(record["params"]):
        raise ModelFileError(
            f"{path} is damaged or forged: its record's architecture needs parameters "
            f"{sorted(expected)}, it lists {sorted(record['params'])}"
        )
    return record, arrays


# -- the book's pickles ---------------------------------------------------------------------


def _ndarray(*args: Any, **kwargs: Any) -> Any:
    """What the pickle's ``numpy.ndarray`` stands for: a name to pass to ``_reconstruct``,
    never a class the pickle can call (``ndarray(shape)`` would allocate any size)."""
    raise ModelFileError(
        "refused to load: the pickle calls numpy.ndarray(...) directly, which allocates "
        "before any data is read; NumPy never writes that (this file may be malicious)"
    )


class _PickledDtype:
    """What the pickle's ``numpy.dtype(...)`` call makes: a request, resolved into a real
    dtype (numeric only) when an array uses it."""

    def __init__(self, spec: Any = None, align: Any = False, copy: Any = False) -> None:
        self.spec = spec
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def resolve(self, where: str) -> np.dtype:
        # NumPy pickles a plain dtype as dtype('f4', False, True) with the state
        # (3, '<', None, None, None, -1, -1, 0); anything richer (fields, subarrays, objects,
        # sizes) is not a weight array's.
        state = self.state
        plain = (
            isinstance(self.spec, str)
            and len(self.spec) <= 4
            and isinstance(state, tuple)
            and len(state) in (8, 9)
            and state[0] in (3, 4)
            and state[1] in ("<", ">", "|", "=")
            and state[2:5] == (None, None, None)
            and state[5:8] == (-1, -1, 0)
        )
        try:
            dtype = np.dtype(self.spec) if plain else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biuf" or dtype.fields is not None:
            raise ModelFileError(
                f"refused to load: {where} has a dtype that is not a plain number type "
                f"({self.spec!r}); weight files hold float arrays"
            )
        return dtype.newbyteorder(state[1]) if state[1] in "<>" else dtype


class _PickledArray:
    """One ``ndarray`` being rebuilt: ``_reconstruct`` makes it empty, the pickle's BUILD
    gives it shape, dtype and bytes, checked against the byte cap before anything is
    allocated."""

    def __init__(self, unpickler: _ArrayOnlyUnpickler) -> None:
        self.unpickler = unpickler
        unpickler.n_arrays += 1
        self.where = f"array #{unpickler.n_arrays}"
        self.array: NDArray | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 4:
            state = (0, *state)
        if not isinstance(state, tuple) or len(state) != 5 or self.array is not None:
            raise ModelFileError(f"refused to load: {self.where} is not a plain NumPy array")
        _, shape, dtype, fortran, raw = state
        self.array = self.unpickler.make_array(self.where, shape, dtype, raw, bool(fortran))


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles store array bytes as text plus ``_codecs.encode(text, 'latin1')``.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ModelFileError(f"refused to load: the pickle asks to encode text as {encoding!r}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    # Protocols 0-2 store an empty array's bytes as ``bytes()``.
    if args:
        raise ModelFileError("refused to load: the pickle calls bytes() with arguments")
    return b""


class _StandIn:
    """A global the pickle may name, called as the pickle calls it, never given state."""

    def __init__(self, func: Any) -> None:
        self.func = func

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)

    def __setstate__(self, state: Any) -> None:
        raise ModelFileError(
            "refused to load: the pickle gives state to a function it names, which NumPy "
            "never writes (this file may be malicious)"
        )


#: Opcodes a pickle of NumPy arrays in a dict can use; the rest (objects, extensions,
#: persistent ids, out-of-band buffers) are refused before unpickling starts.
_ALLOWED_OPCODES = frozenset(
    [
        "PROTO",
        "FRAME",
        "STOP",
        "MARK",
        "POP",
        "POP_MARK",
        "DUP",
        "PUT",
        "BINPUT",
        "LONG_BINPUT",
        "MEMOIZE",
        "GET",
        "BINGET",
        "LONG_BINGET",
        "NONE",
        "NEWTRUE",
        "NEWFALSE",
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "FLOAT",
        "BINFLOAT",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
        "BYTEARRAY8",
        "EMPTY_TUPLE",
        "TUPLE",
        "TUPLE1",
        "TUPLE2",
        "TUPLE3",
        "EMPTY_LIST",
        "LIST",
        "APPEND",
        "APPENDS",
        "EMPTY_DICT",
        "DICT",
        "SETITEM",
        "SETITEMS",
        "GLOBAL",
        "STACK_GLOBAL",
        "REDUCE",
        "BUILD",
    ]
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can build NumPy arrays in plain containers and nothing else.

    The globals it resolves stand in for NumPy's: the arrays' shapes and dtypes are checked,
    and their total size held to ``max_bytes``, before any array is allocated.
    """

    def __init__(self, file: IO[bytes], max_bytes: int) -> None:
        super().__init__(file)
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self.n_arrays = 0
        # Each global is a stand-in of this load's own that refuses BUILD: a pickle can give
        # state to anything it names, and nothing it does may outlive its own load (serve and
        # evaluate read many files in one process).
        self._ndarray = _StandIn(_ndarray)
        self._globals = {
            ("_codecs", "encode"): _StandIn(_latin1_encode),
            ("builtins", "bytes"): _StandIn(_empty_bytes),
            ("__builtin__", "bytes"): _StandIn(_empty_bytes),
            ("numpy.core.numeric", "_frombuffer"): _StandIn(self._frombuffer),
            ("numpy._core.numeric", "_frombuffer"): _StandIn(self._frombuffer),
            ("numpy.core.multiarray", "_reconstruct"): _StandIn(self._reconstruct),
            ("numpy._core.multiarray", "_reconstruct"): _StandIn(self._reconstruct),
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): _StandIn(_PickledDtype),
        }

    def find_class(self, module: str, name: str) -> Any:
        found = self._globals.get((module, name))
        if found is None:
            raise ModelFileError(
                f"refused to load: the pickle asks for {module}.{name}, and only NumPy arrays in "
                "dicts are allowed (a weight file never needs anything else; this file may be "
                "malicious)"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise ModelFileError(
            "refused to load: the pickle uses persistent ids, which weight files never need"
        )

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> _PickledArray:
        # NumPy always writes _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD
        # then fills; any other size would be allocated here, before the data is seen.
        if subtype is not self._ndarray or shape != (0,):
            raise ModelFileError(
                "refused to load: the pickle builds an array in a way NumPy never writes"
            )
        return _PickledArray(self)

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, order: Any) -> NDArray:
        self.n_arrays += 1
        return self.make_array(f"array #{self.n_arrays}", shape, dtype, buf, order == "F")

    def make_array(self, where: str, shape: Any, dtype: Any, raw: Any, fortran: bool) -> NDArray:
        """The array ``shape``/``dtype`` from the bytes ``raw``, after every check."""
        if (
            not isinstance(shape, tuple)
            or len(shape) > 32
            or not all(type(n) is int and n >= 0 for n in shape)
        ):
            raise ModelFileError(f"refused to load: {where} has an impossible shape {shape!r}")
        if not isinstance(dtype, _PickledDtype):
            raise ModelFileError(f"refused to load: {where} has no plain dtype")
        dt = dtype.resolve(where)
        nbytes = math.prod(shape) * dt.itemsize
        self.total_bytes += nbytes
        if self.total_bytes > self.max_bytes:
            raise ModelFileError(
                f"refused to load: {where} (shape {shape}, {dt}) would take {nbytes:,} bytes "
                f"({self.total_bytes:,} for the arrays so far), more than the "
                f"{self.max_bytes:,} allowed; a weight file this large is damaged or hostile "
                f"(raise the limit with {MAX_BYTES_ENV}=<bytes> if it is not)"
            )
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != nbytes:
            size = len(raw) if isinstance(raw, (bytes, bytearray)) else type(raw).__name__
            raise ModelFileError(
                f"refused to load: {where} (shape {shape}, {dt}) needs {nbytes:,} bytes of "
                f"data and the pickle gives {size}; the file is damaged or truncated"
            )
        order = "F" if fortran else "C"
        return np.frombuffer(raw, dtype=dt).reshape(shape, order=order).copy(order=order)


def _check_opcodes(data: bytes, path: Path) -> None:
    """Refuse opcodes no weight pickle needs, and counted lengths past the end of the file
    (CPython's unpickler allocates a declared length before reading it)."""
    import pickletools

    try:
        for opcode, _, _ in pickletools.genops(data):
            if opcode.name not in _ALLOWED_OPCODES:
                raise ModelFileError(
                    f"refused to load: {path} uses the pickle opcode {opcode.name}, which a "
                    "file of NumPy arrays in a dict never needs (this file may be malicious)"
                )
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure of a damaged file
        raise ModelFileError(
            f"{path} is not a readable weight pickle ({exc}); it is damaged or truncated: "
            "download it again"
        ) from None


def read_book_pickle(
    path: str | os.PathLike[str], max_bytes: int | None = None
) -> dict[str, NDArray]:
    """Read a pickled ``{name: ndarray}`` dict without letting it run code.

    Held to the rules of ``.npz`` files (see :func:`load_model`): only NumPy arrays of numbers
    in a dict, their total size within ``max_bytes`` checked from the declared shapes before
    any array is allocated, and every value finite.

    Parameters
    ----------
    path : path-like
    max_bytes : int, optional
        Largest total size of the arrays (default: ``$SCRATCHDL_MAX_MODEL_BYTES``, else 1 GiB).

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, names any global other than NumPy's array
        reconstruction, declares more than ``max_bytes``, or does not hold a dict of finite
        numeric arrays (the message names the array).
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is a .npz archive, not the book's pickle: if it is a scratchdl model, use it "
            "as it is (scratchdl evaluate / load_model); there is nothing to import"
        )
    obj, path = _unpickle(path, max_bytes, "weight pickle")
    if not isinstance(obj, dict) or not obj:
        raise ModelFileError(f"{path} must hold a dict of arrays, it holds {type(obj).__name__}")
    weights: dict[str, NDArray] = {}
    for key, value in obj.items():
        array = value.array if isinstance(value, _PickledArray) else value
        if not isinstance(key, str) or not isinstance(array, np.ndarray):
            raise ModelFileError(
                f"{path} must hold a dict of numeric arrays; entry {key!r} is "
                f"{type(value).__name__}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise ModelFileError(
                f"{path}: {key} holds {bad:,} NaN or infinite values of {array.size:,}; "
                "weights must be finite numbers: the file is damaged or from a diverged run"
            )
        weights[key] = array
    return weights


#: The networks :func:`load_book_weights` can build, by the names the CLI uses.
BOOK_MODELS = ("mlp", "cnn", "deep-cnn")


def _book_model(weights: dict[str, NDArray], n_layers: int, path: Any) -> str:
    """'mlp', 'cnn' or 'deep-cnn' from which weights are 4-D (convolution filters); each W
    must then be a matrix (4-D filters where the network has convolutions) and each b a
    vector: a damaged file gets a sentence naming the array, not NumPy's unpacking error."""
    conv = [weights[f"W{i}"].ndim == 4 for i in range(1, n_layers + 1)]
    if not any(conv):
        model = "mlp"
    elif conv == [True, False, False]:
        model = "cnn"
    elif conv == [True] * 6 + [False, False]:
        model = "deep-cnn"
    else:
        shapes = ", ".join(f"W{i} {weights[f'W{i}'].shape}" for i in range(1, n_layers + 1))
        raise ModelFileError(
            f"the weights ({shapes}) match no network scratchdl knows: the book's MLPs (all W "
            "2-D), SimpleConvNet (W1 4-D, W2 and W3 2-D) or DeepConvNet (W1..W6 4-D, W7 and W8 2-D)"
        )
    names = {"mlp": "fully connected network", "cnn": "SimpleConvNet", "deep-cnn": "DeepConvNet"}
    n_conv = sum(conv)  # each pattern above has its filters first: W1 .. W<n_conv>
    for i in range(1, n_layers + 1):
        W, b = weights[f"W{i}"], weights[f"b{i}"]
        want = 4 if i <= n_conv else 2
        what = "4-D filters (FN, C, FH, FW)" if want == 4 else "a 2-D matrix (inputs, outputs)"
        if W.ndim != want or 0 in W.shape:
            raise ModelFileError(
                f"{path}: W{i} has shape {W.shape}; the book's {names[model]} needs W{i} as "
                f"{what}: the file is damaged or holds another network"
            )
        size = W.shape[0 if want == 4 else 1]
        if b.ndim != 1 or b.shape[0] != size:
            raise ModelFileError(
                f"{path}: b{i} has shape {b.shape}; with W{i} {W.shape} it must have shape "
                f"({size},): the file is damaged or holds another network"
            )
    return model


def _mlp_from(weights: dict[str, NDArray], n_layers: int, activation: str, dtype: str) -> Net:
    # Sizes from each W's columns: a W whose rows do not chain is refused by the shape check.
    sizes = [weights["W1"].shape[0], *(weights[f"W{i}"].shape[1] for i in range(1, n_layers + 1))]
    return MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], activation=activation, dtype=dtype)


def _simple_conv_from(weights: dict[str, NDArray], input_dim, dtype: str, path) -> Net:
    FN, C, FH, FW = weights["W1"].shape
    rows, hidden = weights["W2"].shape
    if input_dim is None:
        # The book's SimpleConvNet: square images, stride 1, pad 0, then 2x2 pooling, so W2
        # has FN * side² rows with side = (H - FH + 1) // 2.
        side = int(round(np.sqrt(rows / FN))) if FN else 0
        if FH != FW or side < 1 or FN * side * side != rows:
            raise ModelFileError(
                f"{path}: W1 {weights['W1'].shape} and W2 {weights['W2'].shape} do not fit the "
                "book's SimpleConvNet on square images; give input_dim"
            )
        size = 2 * side + FH - 1
        input_dim = (C, size, size)
    conv = {"filter_num": FN, "filter_size": FH, "pad": 0, "stride": 1}
    return SimpleConvNet(input_dim, conv, hidden, weights["W3"].shape[1], dtype=dtype)


def load_book_weights(
    path: str | os.PathLike[str],
    activation: str = "sigmoid",
    dtype: str = "float32",
    *,
    model: str | None = None,
    input_dim: tuple[int, int, int] | None = None,
) -> Net:
    """Load the book's pickled weights (``W1, b1, W2, b2, ...``) as a ready network.

    The network is told by ``model`` or detected from the weights:

    - all ``W`` 2-D: a fully connected :class:`~scratchdl.nets.MultiLayerNet` whose sizes are
      read from the shapes (``sample_weight.pkl`` gives the chapter 3 network 784-50-100-10
      with sigmoid activations);
    - ``W1`` 4-D (filters) and ``W2``, ``W3`` 2-D: the chapter 7
      :class:`~scratchdl.nets.SimpleConvNet` (``params.pkl``): filters from ``W1``, stride 1,
      pad 0, and square images of the size that gives ``W2``'s rows (28 for MNIST);
    - ``W1..W6`` 4-D, ``W7``, ``W8`` 2-D: the chapter 8 :class:`~scratchdl.nets.DeepConvNet`
      (``deep_convnet_params.pkl``) with the book's settings.

    Parameters
    ----------
    path : path-like
        The ``.pkl`` file, read with an unpickler that only builds NumPy arrays.
    activation : {'sigmoid', 'relu'}
        Hidden activation of an MLP (the book's sample uses sigmoid); the CNNs use ReLU.
    dtype : {'float32', 'float64'}
    model : {'mlp', 'cnn', 'deep-cnn'}, optional
        The architecture, if not to be detected.
    input_dim : tuple (C, H, W), optional
        Image shape for the CNNs (default: derived, or (C, 28, 28)).

    Raises
    ------
    ModelFileError
        If the file is unsafe or damaged, or its weights do not fit the network.
    """
    weights = read_book_pickle(path)
    n_layers = sum(1 for k in weights if k.startswith("W"))
    expected = {f"{p}{i}" for i in range(1, n_layers + 1) for p in "Wb"}
    if n_layers == 0 or set(weights) != expected:
        raise ModelFileError(f"{path} must hold W1, b1, ..., Wn, bn; it holds {sorted(weights)}")
    detected = _book_model(weights, n_layers, path)
    if model is None:
        model = detected
    elif check_choice(model, BOOK_MODELS, "model") != detected:
        raise ModelFileError(f"{path} holds weights of a {detected!r} network, not a {model!r} one")
    try:
        if model == "mlp":
            net = _mlp_from(weights, n_layers, activation, dtype)
        elif model == "cnn":
            net = _simple_conv_from(weights, input_dim, dtype, path)
        else:
            C = weights["W1"].shape[1]
            net = DeepConvNet(input_dim or (C, 28, 28), dtype=dtype)
    except ConfigError as exc:
        raise ModelFileError(
            f"{path}: the weights do not make a {model!r} network: {exc}"
        ) from None
    for key, value in weights.items():
        if value.shape != net.params[key].shape:
            raise ModelFileError(
                f"{path}: {key} has shape {value.shape}, the {type(net).__name__} built from the "
                f"other weights needs {net.params[key].shape}"
            )
        net.params[key] = value
    return net


# -- the second book's pickles ---------------------------------------------------------------
# cbow_params.pkl is a dict {'word_vecs': float16 (V, D), 'word_to_id': {str: int},
# 'id_to_word': {int: str}}; Rnnlm.pkl and AttentionSeq2seq.pkl are lists of float16 arrays
# (the book's BaseModel.save_params). The same array-only unpickler reads them, after a size
# check; the result is then walked so that only plain containers, strings, numbers and numeric
# arrays come out.

__all__ += ["load_word_vectors", "read_book2_pickle"]


def _plain(obj: Any, path: Path, depth: int = 0) -> Any:
    """``obj`` with its arrays finished (the unpickler's stand-ins replaced), checked to hold
    nothing but containers, strings, numbers and numeric arrays."""
    if depth > 4:
        raise ModelFileError(f"{path}: nested deeper than the book's pickles ever are")
    if isinstance(obj, _PickledArray):
        if obj.array is None:
            raise ModelFileError(f"{path}: {obj.where} was never filled; the file is damaged")
        obj = obj.array
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fiu":
            raise ModelFileError(f"{path}: holds an array of dtype {obj.dtype}, not numbers")
        return obj
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, (str, int)):
                raise ModelFileError(f"{path}: holds a dict key of type {type(key).__name__}")
        return {key: _plain(value, path, depth + 1) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(value, path, depth + 1) for value in obj)
    if not isinstance(obj, (str, int, float, bool, type(None))):
        raise ModelFileError(f"{path}: holds a {type(obj).__name__}, which weight files never do")
    return obj


def read_book2_pickle(path: str | os.PathLike[str] | Any, max_bytes: int | None = None) -> Any:
    """Read one of the second book's pickles without letting it run code.

    Only NumPy's array reconstruction is resolved (as :func:`read_book_pickle`); the file must
    be at most ``max_bytes`` (default 1 GiB, or ``$SCRATCHDL_MAX_MODEL_BYTES``), and what it
    holds must be dicts, lists and tuples of strings, numbers and numeric arrays.

    Raises
    ------
    ModelFileError
        Missing, too large, damaged, or unsafe.
    """
    obj, path = _unpickle(path, max_bytes, "pickle")
    return _plain(obj, path)


def _unpickle(path: Any, max_bytes: int | None, what: str) -> tuple[Any, Path]:
    """What the pickle at ``path`` (or an open binary file) holds, and its path: read whole
    within the size limit, its opcodes checked, unpickled by :class:`_ArrayOnlyUnpickler`."""
    limit = max_bytes_limit(max_bytes)
    # Array bytes are stored as they are, or as latin-1 text in UTF-8 (up to 2 bytes each).
    file_limit = 2 * limit + (1 << 20)
    if hasattr(path, "read"):  # an open binary file, as the book's ``pickle.load(f)`` gets
        data = path.read(file_limit + 1)
        path = Path(getattr(path, "name", "<file>"))
    else:
        data = _read_capped(Path(path), file_limit)
    if len(data) > file_limit:
        raise ModelFileError(
            f"refused to load: {path} has more than {file_limit:,} bytes, more than arrays of "
            f"at most {limit:,} bytes take; raise the limit with max_bytes= or "
            f"{MAX_BYTES_ENV}=<bytes> if you trust it"
        )
    _check_opcodes(data, path)
    try:
        return _ArrayOnlyUnpickler(_io.BytesIO(data), limit).load(), path
    except ModelFileError:
        raise
    except Exception as exc:  # any unpickling failure of a damaged file  # noqa: BLE001
        raise ModelFileError(
            f"{path} is not a readable {what} ({type(exc).__name__}: {exc}); it is damaged or "
            "truncated: download it again"
        ) from None


def _read_capped(path: Path, limit: int) -> bytes:
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder: give the .pkl weight file")
    if path.exists() and not path.is_file():  # a pipe, socket or device: could block forever
        raise ModelFileError(f"{path} is not a regular file: give the .pkl weight file")
    try:
        with path.open("rb") as f:
            # read(n) allocates n bytes up front: ask for no more than the file holds.
            data = f.read(min(os.fstat(f.fileno()).st_size, limit) + 1)
    except FileNotFoundError:
        raise ModelFileError(f"{path} does not exist: check the path") from None
    except OSError as exc:
        raise ModelFileError(f"{path} cannot be read ({exc.strerror})") from None
    return data


def _load_book_word_vectors(
    path: str | os.PathLike[str], max_bytes: int | None = None
) -> tuple[NDArray, dict[str, int], dict[int, str]]:
    """The book's word-vector pickle (``cbow_params.pkl``, ch. 4.3.2), read safely.

    Returns
    -------
    word_vecs : ndarray, shape (V, D)
        As stored (float16 in the book's file).
    word_to_id : dict of str to int
    id_to_word : dict of int to str

    Raises
    ------
    ModelFileError
        Unsafe or damaged file, or the three parts do not fit together (ids outside
        ``0..V-1``, the two dicts not each other's inverse).
    """
    path = Path(path)
    obj = read_book2_pickle(path, max_bytes)
    keys = {"word_vecs", "word_to_id", "id_to_word"}
    if not isinstance(obj, dict) or set(obj) != keys:
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise ModelFileError(f"{path} must hold a dict with {sorted(keys)}, it holds {found}")
    W, word_to_id, id_to_word = obj["word_vecs"], obj["word_to_id"], obj["id_to_word"]
    if not isinstance(W, np.ndarray) or W.ndim != 2 or W.dtype.kind != "f":
        raise ModelFileError(f"{path}: word_vecs must be a (V, D) float array")
    V = W.shape[0]
    if not (
        isinstance(word_to_id, dict)
        and isinstance(id_to_word, dict)
        and len(word_to_id) == len(id_to_word) == V
        and all(isinstance(w, str) and type(i) is int for w, i in word_to_id.items())
        and set(word_to_id.values()) == set(range(V))
        and all(id_to_word.get(i) == w for w, i in word_to_id.items())
    ):
        raise ModelFileError(
            f"{path}: word_to_id and id_to_word must be inverse dicts over ids 0..{V - 1} "
            f"(one per row of word_vecs)"
        )
    return W, word_to_id, id_to_word


# -- word vectors in our own format ------------------------------------------------------------
# ``scratchdl nlp cbow`` writes word vectors as a plain .npz (read with allow_pickle=False):
# ``word_vecs`` (V, D), the words in id order as UTF-8 JSON bytes, and a JSON record.

WORD_VECTORS_FORMAT = "scratchdl-word-vectors"

__all__ += ["WORD_VECTORS_FORMAT", "save_word_vectors"]


def save_word_vectors(
    path: str | os.PathLike[str],
    word_vecs: NDArray,
    id_to_word: dict[int, str],
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write word vectors and their vocabulary to ``path`` (.npz) atomically.

    Read them back with :func:`load_word_vectors`.
    """
    word_vecs = np.asarray(word_vecs)
    V = word_vecs.shape[0]
    if word_vecs.ndim != 2 or sorted(id_to_word) != list(range(V)):
        raise ConfigError(
            f"save_word_vectors needs a (V, D) matrix and one word per id 0..V-1, got "
            f"{word_vecs.shape} and {len(id_to_word)} words"
        )
    record = {
        "format": WORD_VECTORS_FORMAT,
        "version": 1,
        "scratchdl": __version__,
        "metadata": metadata or {},
    }
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("wb") as out:
        np.savez(
            out,
            word_vecs=word_vecs,
            words=json_array([id_to_word[i] for i in range(V)]),
            **{_RECORD_KEY: json_array(record)},
        )
    return path


def load_word_vectors(
    path: str | os.PathLike[str], max_bytes: int | None = None
) -> tuple[NDArray, dict[str, int], dict[int, str]]:
    """Word vectors with their vocabulary: ``(word_vecs, word_to_id, id_to_word)``.

    ``path`` is a file of :func:`save_word_vectors` (what ``scratchdl nlp cbow`` writes) or
    the book's ``cbow_params.pkl`` (read safely, see above). A folder is taken to be a run
    folder holding ``model.npz``.

    Raises
    ------
    ModelFileError
        Missing, unsafe, damaged, or not word vectors.
    """
    path = Path(path)
    if path.is_dir() and (path / "model.npz").is_file():
        path = path / "model.npz"
    if not (path.is_file() and zipfile.is_zipfile(path)):
        return _load_book_word_vectors(path, max_bytes)
    # Array headers first: a file whose arrays would unpack to more than max_bytes (a zip
    # bomb, a forged shape) is refused before anything is allocated.
    inspect_npz(path, max_bytes, what="word-vector file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            record = None
            if _RECORD_KEY in npz.files and "words" in npz.files:
                record = array_json(npz[_RECORD_KEY])
            if not isinstance(record, dict) or record.get("format") != WORD_VECTORS_FORMAT:
                raise ModelFileError(
                    f"{path} is not a word-vector file (a network model? use scratchdl evaluate)"
                )
            words = array_json(npz["words"])
            W = npz["word_vecs"]
    except ModelFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    if (
        W.ndim != 2
        or W.dtype.kind != "f"
        or not isinstance(words, list)
        or len(words) != W.shape[0]
        or not all(isinstance(w, str) for w in words)
        or len(set(words)) != len(words)
    ):
        raise ModelFileError(f"{path}: the vectors and the word list do not fit together")
    return W, {w: i for i, w in enumerate(words)}, dict(enumerate(words))


def read_book_param_list(
    path: str | os.PathLike[str],
    shapes: list[tuple[int, ...]] | None = None,
    max_bytes: int | None = None,
) -> list[NDArray]:
    """Read the second book's ``save_params`` pickle (``Rnnlm.pkl``, ``AttentionSeq2seq.pkl``)
    without letting it run code: a list of float arrays (float16 in the book) in the model's
    ``params`` order.

    Parameters
    ----------
    path : path-like
    shapes : list of tuple, optional
        The model's parameter shapes, in order; the file must match them exactly.
    max_bytes : int, optional
        Largest file accepted (default 1 GiB, or ``$SCRATCHDL_MAX_MODEL_BYTES``).

    Raises
    ------
    ModelFileError
        What :func:`read_book2_pickle` refuses, and a file that is not a list of float arrays
        or does not match ``shapes``.
    """
    obj = read_book2_pickle(path, max_bytes)
    if isinstance(obj, tuple):
        obj = list(obj)
    if not isinstance(obj, list) or not obj:
        raise ModelFileError(
            f"{path} must hold a list of arrays (the second book's save_params), it holds "
            f"{type(obj).__name__}"
        )
    for i, value in enumerate(obj):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ModelFileError(
                f"{path}: entry {i} is {getattr(value, 'dtype', type(value).__name__)}, not a "
                "float array"
            )
    if shapes is not None:
        got = [tuple(a.shape) for a in obj]
        want = [tuple(s) for s in shapes]
        if got != want:
            raise ModelFileError(
                f"{path} holds {len(got)} arrays of shapes {got}, but the network needs "
                f"{len(want)} of shapes {want}: build the network with the sizes the file was "
                "trained with"
            )
    return obj
