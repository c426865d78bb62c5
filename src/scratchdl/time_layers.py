"""Layers over time (second book, ch. 5-6; GRU from its appendix), in the book's form.

A layer holds ``params`` (a list of arrays, the book's order) and ``grads`` (arrays of the same
shapes, overwritten in place by ``backward``, so an optimizer can hold on to them). Sequences
are batch-major like the book's: inputs ``(N, T, D)``, hidden states ``(N, T, H)``, word ids
``(N, T)``. ``backward`` before ``forward`` raises :class:`~scratchdl.errors.StateError`, and no
layer modifies an array it is given.

The dtype follows the parameters (float32 by default, float64 for gradient checks); inputs are
converted to it. :class:`TimeLSTM` is written for speed (the arithmetic is the book's): the
input projection of every time step is one GEMM before the loop, the state lives in
preallocated time-major buffers, the gates are activated in place, and ``dWx``, ``dWh``, ``db``
come from one GEMM after the backward loop (the book sums three products per step).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.errors import ConfigError, ShapeError, StateError
from scratchdl.layers import Embedding

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "TimeAffine",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "sigmoid_",
]


# exp(x) without the book's shift x - max(x) is used when every row's sum of exp lies in
# [e^-60, e^60]: then each exp(x) is finite and the sums normal, even in float32.
_SUM_LO, _SUM_HI = float(np.exp(-60.0)), float(np.exp(60.0))
_BLOCK = 1 << 18  # elements per block of TimeSoftmaxWithLoss rows: 1 MB of float32 (in L2)


class _Scratch:
    """A large array a layer fills anew on every call, reused while nobody else holds it.

    The book allocates a new array each time. For the (N*T, V) scores of a 10,000-word
    vocabulary (28 MB) a new array means fresh pages from the operating system: page faults
    and zero-filling that cost about as much as the arithmetic on them (5 ms a step here,
    measured). ``get`` hands back the previous array when its only reference is this object's
    (so no caller can see it change), else a new one.
    """

    def __init__(self) -> None:
        self.array: NDArray | None = None

    def _refs(self) -> int:
        a = self.array
        return sys.getrefcount(a)

    def get(self, shape: tuple[int, ...], dtype: np.dtype) -> NDArray:
        a = self.array
        if a is not None and a.shape == shape and a.dtype == dtype:
            del a
            if self._refs() == _FREE_REFS:
                return self.array  # type: ignore[return-value]
        self.array = np.empty(shape, dtype=dtype)
        return self.array


def _free_refs() -> int:
    probe = _Scratch()
    probe.array = np.empty(1)
    return probe._refs()


_FREE_REFS = _free_refs()  # what _Scratch._refs counts for an array no one else holds


def _need(value: Any, layer: object) -> Any:
    if value is None:
        raise StateError(
            f"{type(layer).__name__}.backward called before forward: run forward first"
        )
    return value


def sigmoid_(a: NDArray) -> NDArray:
    """Logistic sigmoid of ``a`` in place, as ``(1 + tanh(a / 2)) / 2``: no ``exp``, so no
    overflow for any input. Returns ``a``."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def _float_params(*arrays: ArrayLike) -> list[NDArray]:
    first = np.asarray(arrays[0])
    dtype = first.dtype if first.dtype.kind == "f" else np.dtype(np.float32)
    return [np.asarray(a, dtype=dtype) for a in arrays]


def _sequence(xs: ArrayLike, layer: object, dim: int, dtype: np.dtype) -> NDArray:
    xs = np.asarray(xs)
    if xs.dtype.kind not in "fiu":
        raise ShapeError(f"{type(layer).__name__} needs real numbers, got dtype {xs.dtype}")
    if xs.ndim != 3 or xs.shape[2] != dim:
        raise ShapeError(
            f"{type(layer).__name__} expects input of shape (N, T, {dim}), got {xs.shape}"
        )
    return xs.astype(dtype, copy=False)


def _state(value: ArrayLike | None, shape: tuple[int, int], dtype: np.dtype, name: str) -> Any:
    if value is None:
        return None
    value = np.asarray(value)
    if value.shape != shape:
        raise ShapeError(f"{name} must have shape {shape}, got {value.shape}")
    return value.astype(dtype, copy=True)  # our own copy: the caller's array is never changed


# -- ch. 5.3: RNN --------------------------------------------------------------------------------


class RNN:
    """One RNN step (ch. 5.3.1): ``h_next = tanh(h_prev Wh + x Wx + b)``.

    Parameters
    ----------
    Wx : ndarray, shape (D, H)
    Wh : ndarray, shape (H, H)
    b : ndarray, shape (H,)
    """

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache: tuple[NDArray, NDArray, NDArray] | None = None

    def forward(self, x: NDArray, h_prev: NDArray) -> NDArray:
        Wx, Wh, b = self.params
        x = np.asarray(x, dtype=Wx.dtype)
        h_prev = np.asarray(h_prev, dtype=Wx.dtype)
        h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: NDArray) -> tuple[NDArray, NDArray]:
        x, h_prev, h_next = _need(self.cache, self)
        Wx, Wh, _ = self.params
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


class TimeRNN:
    """T RNN steps over ``(N, T, D)`` input (ch. 5.3.2), returning ``hs`` of shape (N, T, H).

    ``stateful=True`` carries the last hidden state ``h`` into the next ``forward``
    (truncated BPTT); :meth:`reset_state` forgets it. ``dh`` is the gradient of the first hidden
    state after ``backward``.
    """

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike, stateful: bool = False) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.h: NDArray | None = None
        self.dh: NDArray | None = None
        self._cache: tuple[NDArray, NDArray, NDArray] | None = None

    def set_state(self, h: ArrayLike) -> None:
        self.h = np.array(h, dtype=self.params[0].dtype)

    def reset_state(self) -> None:
        self.h = None

    def forward(self, xs: ArrayLike) -> NDArray:
        Wx, Wh, b = self.params
        D, H = Wx.shape
        xs = _sequence(xs, self, D, Wx.dtype)
        N, T, _ = xs.shape
        hs = np.empty((T + 1, N, H), dtype=Wx.dtype)  # time-major; hs[0] is the initial state
        x_tm = np.ascontiguousarray(xs.transpose(1, 0, 2))
        a = (x_tm.reshape(T * N, D) @ Wx + b).reshape(T, N, H)
        if not self.stateful or self.h is None:
            hs[0] = 0
        else:
            hs[0] = _state(self.h, (N, H), Wx.dtype, "TimeRNN.h")
        for t in range(T):
            a[t] += hs[t] @ Wh
            np.tanh(a[t], out=hs[t + 1])
        self.h = hs[T].copy()
        self._cache = (x_tm, hs, xs.shape)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))

    def backward(self, dhs: NDArray) -> NDArray:
        x_tm, hs, shape = _need(self._cache, self)
        Wx, Wh, _ = self.params
        N, T, D = shape
        H = Wh.shape[0]
        dhs_tm = np.asarray(dhs, dtype=Wx.dtype).transpose(1, 0, 2)
        dt = np.empty((T, N, H), dtype=Wx.dtype)
        dh = np.zeros((N, H), dtype=Wx.dtype)
        for t in reversed(range(T)):
            np.add(dhs_tm[t], dh, out=dt[t])
            dt[t] *= 1 - hs[t + 1] ** 2
            dh = dt[t] @ Wh.T
        dt2 = dt.reshape(T * N, H)
        self.grads[0][...] = x_tm.reshape(T * N, D).T @ dt2
        self.grads[1][...] = hs[:T].reshape(T * N, H).T @ dt2
        self.grads[2][...] = dt2.sum(axis=0)
        self.dh = dh
        return np.ascontiguousarray((dt2 @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))


# -- ch. 5.4: the other time layers ------------------------------------------------------------


class TimeEmbedding(Embedding):
    """Word ids ``(N, T)`` to vectors ``(N, T, D)``: ``W[xs]`` (ch. 5.4.1).

    :class:`scratchdl.layers.Embedding` already looks up ids of any shape, so the book's loop
    over T Embedding layers is one lookup here; ``backward`` adds each id's rows of ``dout``
    into ``grads[0]`` without ``np.add.at`` and returns None.

    Parameters
    ----------
    W : ndarray, shape (V, D)
    """


class TimeAffine:
    """``y = x W + b`` at every time step: ``(N, T, D)`` to ``(N, T, M)`` (ch. 5.4.1), one GEMM.

    Parameters
    ----------
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)
    """

    def __init__(self, W: ArrayLike, b: ArrayLike) -> None:
        self.params = _float_params(W, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.x: NDArray | None = None
        self._out, self._Wb = _Scratch(), _Scratch()

    def forward(self, x: ArrayLike) -> NDArray:
        W, b = self.params
        x = _sequence(x, self, W.shape[0], W.dtype)
        N, T, D = x.shape
        self.x = x
        # The book computes x W, then adds b: a second pass over the (N*T, M) output, which
        # for a 10,000-word vocabulary is larger than the CPU cache. Here b is one more row of
        # the weights and 1 one more column of x, so the one GEMM adds it: [x 1] [W; b].
        x1 = np.empty((N * T, D + 1), dtype=W.dtype)
        x1[:, :D] = x.reshape(N * T, D)
        x1[:, D] = 1
        Wb = self._Wb.get((D + 1, W.shape[1]), W.dtype)
        Wb[:D] = W
        Wb[D] = b
        out = self._out.get((N * T, W.shape[1]), W.dtype)
        np.matmul(x1, Wb, out=out)
        return out.reshape(N, T, -1)

    def backward(self, dout: NDArray) -> NDArray:
        x = _need(self.x, self)
        W, _ = self.params
        N, T, D = x.shape
        dout = np.asarray(dout, dtype=W.dtype).reshape(N * T, -1)
        np.matmul(x.reshape(N * T, D).T, dout, out=self.grads[0])
        self.grads[1][...] = dout.sum(axis=0)
        return (dout @ W.T).reshape(N, T, D)


class TimeSoftmaxWithLoss:
    """Softmax and cross-entropy at every time step, averaged (ch. 5.4.1).

    ``forward(xs, ts)`` takes scores ``(N, T, V)`` and labels ``(N, T)`` (or one-hot
    ``(N, T, V)``); labels equal to ``ignore_label`` (-1, the book's padding) count neither in
    the loss nor in the average. The loss comes from the log-softmax, ``x_t - log sum exp(x)``,
    so it stays finite. The book subtracts each row's maximum before ``exp``; this layer skips
    that extra pass over the (N*T, V) scores when ``exp`` cannot overflow or underflow (checked
    on the row sums, the shifted form otherwise), which gives the same softmax.
    """

    def __init__(self, ignore_label: int = -1) -> None:
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.ignore_label = ignore_label
        self.cache: tuple[NDArray, NDArray, NDArray, NDArray, int] | None = None
        self._e = _Scratch()

    def forward(self, xs: ArrayLike, ts: ArrayLike) -> float:
        xs = np.asarray(xs)
        if xs.dtype.kind != "f":
            xs = xs.astype(np.float32)
        ts = np.asarray(ts)
        if xs.ndim == 2:  # one time step, as the book's Decoder may give
            xs = xs[:, None, :]
            ts = ts[:, None] if ts.ndim == 1 else ts[:, None, :]
        if xs.ndim != 3:
            raise ShapeError(f"TimeSoftmaxWithLoss expects scores (N, T, V), got {xs.shape}")
        N, T, V = xs.shape
        if ts.ndim == 3:  # one-hot targets
            ts = ts.argmax(axis=2)
        if ts.shape != (N, T) or ts.dtype.kind not in "iu":
            raise ShapeError(
                f"labels must be integers of shape {(N, T)} for scores {xs.shape}, got "
                f"{ts.shape} {ts.dtype}"
            )
        x = xs.reshape(N * T, V)
        t = ts.reshape(N * T)
        mask = t != self.ignore_label
        if np.any((t[mask] < 0) | (t[mask] >= V)):
            raise ShapeError(f"labels must be in [0, {V}) or {self.ignore_label} (ignored)")
        t = np.where(mask, t, 0)
        count = int(mask.sum())
        rows = np.arange(N * T)
        picked = x[rows, t].astype(x.dtype)
        # exp(x) and its row sums, a block of rows at a time so that the sum reads the block
        # while it is still in the CPU cache (one trip through memory instead of three).
        self.cache = None  # let go of the last forward's buffer, so that it can be reused
        e = self._e.get(x.shape, x.dtype)
        s = np.empty(N * T, dtype=x.dtype)
        step = max(1, _BLOCK // V)
        with np.errstate(over="ignore", under="ignore"):
            for r in range(0, N * T, step):
                np.exp(x[r : r + step], out=e[r : r + step])
                np.einsum("ij->i", e[r : r + step], out=s[r : r + step])
        if not (s.min() > _SUM_LO and s.max() < _SUM_HI):
            # A row sum outside [e^-60, e^60] (or inf, NaN): the scores are too large or too
            # small for exp itself, so use the book's shifted form x - max(x) on every row.
            m = x.max(axis=1)
            np.subtract(x, m[:, None], out=e)
            picked -= m
            np.exp(e, out=e)
            np.einsum("ij->i", e, out=s)
        loss = -float(np.sum(picked - np.log(s), where=mask)) / max(count, 1)
        self.cache = (e, s, t, mask, count)
        self._shape = xs.shape
        return loss

    def backward(self, dout: float = 1.0) -> NDArray:
        """``dout * (softmax - onehot) / count``, zero at ignored labels.

        The book's forward stores ``softmax(x)`` and its backward scales it again; here the
        forward keeps ``exp(x)`` and the row sums ``s``, and the division by ``s`` and the scale
        ``dout / count`` are one pass over the (N*T, V) array, in the forward pass's own buffer
        (no copy). A second ``backward`` therefore needs a new ``forward``."""
        e, s, t, mask, count = _need(self.cache, self)
        self.cache = None
        coef = e.dtype.type(dout / max(count, 1))
        scale = coef / s  # softmax = exp(x) / s, times dout / count, per row
        scale[~mask] = 0
        dx = e
        dx *= scale[:, None]
        dx[np.arange(t.shape[0]), t] -= np.where(mask, coef, 0).astype(e.dtype)
        return dx.reshape(self._shape)


class TimeDropout:
    """Inverted dropout over a sequence (ch. 6.5.2): in training each value is kept with
    probability ``1 - dropout_ratio`` and scaled by ``1 / (1 - dropout_ratio)``; at test time
    (``train_flg = False``, set by the network) it passes the input through.

    Parameters
    ----------
    dropout_ratio : float in [0, 1)
    rng : numpy.random.Generator or int seed, optional
    """

    def __init__(
        self, dropout_ratio: float = 0.5, *, rng: np.random.Generator | int | None = None
    ) -> None:
        ratio = float(dropout_ratio)
        if not 0.0 <= ratio < 1.0:
            raise ConfigError(f"dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.params: list[NDArray] = []
        self.grads: list[NDArray] = []
        self.dropout_ratio = ratio
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.train_flg = True
        self.mask: NDArray | None = None

    def forward(self, xs: ArrayLike) -> NDArray:
        xs = np.asarray(xs)
        if not self.train_flg:
            self.mask = np.ones((1,) * xs.ndim, dtype=xs.dtype)
            return xs.copy()
        keep = self.rng.random(xs.shape, dtype=np.float32) > self.dropout_ratio
        self.mask = keep.astype(xs.dtype) * xs.dtype.type(1.0 / (1.0 - self.dropout_ratio))
        return xs * self.mask

    def backward(self, dout: NDArray) -> NDArray:
        return dout * _need(self.mask, self)


# -- ch. 6.3: LSTM -----------------------------------------------------------------------------


class LSTM:
    """One LSTM step (ch. 6.3), gates in the book's order ``f, g, i, o``.

    ``A = x Wx + h_prev Wh + b`` split in four (H each): ``f, i, o`` sigmoid, ``g`` tanh;
    ``c_next = f c_prev + g i``, ``h_next = o tanh(c_next)``.

    Parameters
    ----------
    Wx : ndarray, shape (D, 4H)
    Wh : ndarray, shape (H, 4H)
    b : ndarray, shape (4H,)
    """

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache: tuple | None = None

    def forward(self, x: NDArray, h_prev: NDArray, c_prev: NDArray) -> tuple[NDArray, NDArray]:
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        x = np.asarray(x, dtype=Wx.dtype)
        h_prev = np.asarray(h_prev, dtype=Wx.dtype)
        c_prev = np.asarray(c_prev, dtype=Wx.dtype)
        A = x @ Wx + h_prev @ Wh + b
        f = sigmoid_(A[:, :H].copy())
        g = np.tanh(A[:, H : 2 * H])
        i = sigmoid_(A[:, 2 * H : 3 * H].copy())
        o = sigmoid_(A[:, 3 * H :].copy())
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next: NDArray, dc_next: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        x, h_prev, c_prev, i, f, g, o, c_next = _need(self.cache, self)
        Wx, Wh, _ = self.params
        tanh_c = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c**2)
        dc_prev = ds * f
        di = ds * g * i * (1 - i)
        df = ds * c_prev * f * (1 - f)
        do = dh_next * tanh_c * o * (1 - o)
        dg = ds * i * (1 - g**2)
        dA = np.hstack((df, dg, di, do))
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)
        return dA @ Wx.T, dA @ Wh.T, dc_prev


class TimeLSTM:
    """T LSTM steps over ``(N, T, D)`` input (ch. 6.3.4), returning ``hs`` (N, T, H).

    ``stateful=True`` carries ``h`` and ``c`` into the next ``forward`` (truncated BPTT);
    :meth:`set_state` / :meth:`reset_state` set or forget them. After ``backward``, ``dh`` is
    the gradient of the initial hidden state (the seq2seq encoder's output gradient).

    The arithmetic is :class:`LSTM`'s; the layout is for speed. The sigmoid columns (f, i, o)
    of the weights are pre-scaled by 1/2, so one in-place ``tanh`` over the whole row of
    pre-activations activates all four gates (``sigmoid(a) = (1 + tanh(a / 2)) / 2``, never
    overflowing); the gates stay in the book's column order f, g, i, o, so the gradients come
    out in the parameters' own layout, without any reordering: the forward keeps
    ``[x_t, h_{t-1}, 1]`` for every step in one array, so one GEMM after the backward loop gives
    ``dWx``, ``dWh`` and ``db`` (the book's LSTM objects compute them per step and add up).
    """

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike, stateful: bool = False) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        H = self.params[1].shape[0]
        if self.params[0].shape[1] != 4 * H or self.params[1].shape != (H, 4 * H):
            raise ShapeError(
                f"TimeLSTM needs Wx (D, 4H), Wh (H, 4H), b (4H,); got {self.params[0].shape}, "
                f"{self.params[1].shape}, {self.params[2].shape}"
            )
        dtype = self.params[0].dtype
        # Book order f, g, i, o: 1/2 on the sigmoid columns f, i, o; 1 on g.
        self._scale = np.r_[np.full(H, 0.5), np.ones(H), np.full(2 * H, 0.5)].astype(dtype)
        self._shift = (1 - self._scale).astype(dtype)  # 1/2 on f, i, o; 0 on g
        self.stateful = stateful
        self.h: NDArray | None = None
        self.c: NDArray | None = None
        self.dh: NDArray | None = None
        self._cache: tuple | None = None

    def set_state(self, h: ArrayLike, c: ArrayLike | None = None) -> None:
        dtype = self.params[0].dtype
        self.h = np.array(h, dtype=dtype)
        self.c = None if c is None else np.array(c, dtype=dtype)

    def reset_state(self) -> None:
        self.h, self.c = None, None

    def forward(self, xs: ArrayLike) -> NDArray:
        Wx, Wh, b = self.params
        dtype = Wx.dtype
        D, H4 = Wx.shape
        H = H4 // 4
        xs = _sequence(xs, self, D, dtype)
        N, T, _ = xs.shape
        scale, shift = self._scale, self._shift
        Wh_s = Wh * scale  # the forward's weights, scaled (a new C-ordered array)

        # XH[t] = [x_t, h_{t-1}, 1], time-major: backward gets dWx, dWh and db from one GEMM
        # over it (the book sums three products per step); hs is a view of its h columns.
        XH = np.empty((T + 1, N, D + H + 1), dtype=dtype)
        XH[:T, :, :D] = xs.transpose(1, 0, 2)
        XH[:, :, D + H] = 1
        hs = XH[:, :, D : D + H]
        G = (XH[:T, :, :D].reshape(T * N, D) @ (Wx * scale)).reshape(T, N, H4)
        G += b * scale
        cs = np.empty((T + 1, N, H), dtype=dtype)
        tanh_c = np.empty((T, N, H), dtype=dtype)
        keep_state = self.stateful and self.h is not None
        hs[0] = _state(self.h, (N, H), dtype, "TimeLSTM.h") if keep_state else 0
        c0 = self.c if self.stateful and self.c is not None else None
        cs[0] = _state(c0, (N, H), dtype, "TimeLSTM.c") if c0 is not None else 0
        tmp = np.empty((N, H4), dtype=dtype)
        ig = np.empty((N, H), dtype=dtype)
        for t in range(T):
            a = G[t]
            np.matmul(hs[t], Wh_s, out=tmp)
            a += tmp
            np.tanh(a, out=a)  # g done; f, i, o hold tanh(a / 2)
            a *= scale  # f, i, o: (1 + tanh(a / 2)) / 2, on whole contiguous rows
            a += shift
            f, g, i, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            np.multiply(f, cs[t], out=cs[t + 1])
            np.multiply(i, g, out=ig)
            cs[t + 1] += ig
            np.tanh(cs[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])
        self.h, self.c = hs[T].copy(), cs[T].copy()
        self._cache = (XH, G, cs, tanh_c)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))

    def backward(self, dhs: ArrayLike) -> NDArray:
        XH, G, cs, tanh_c = _need(self._cache, self)
        Wx, Wh, _ = self.params
        dtype = Wx.dtype
        T, N, H4 = G.shape
        H = H4 // 4
        D = Wx.shape[0]
        dhs = np.asarray(dhs, dtype=dtype)
        if dhs.shape != (N, T, H):
            raise ShapeError(f"TimeLSTM.backward expects dhs of shape {(N, T, H)}, got {dhs.shape}")
        dhs_tm = np.ascontiguousarray(dhs.transpose(1, 0, 2))
        f, g, i = G[:, :, :H], G[:, :, H : 2 * H], G[:, :, 2 * H : 3 * H]
        o = G[:, :, 3 * H :]
        # Everything that does not depend on the incoming gradients, for all steps at once.
        # Q holds each gate's factor in dA = [ds, ds, ds, dh] * Q. The activations' slopes
        # first, over whole contiguous rows: y (1 - y) for the sigmoids f, i, o and 1 - y^2
        # for tanh g are both (k - y) y + (1 - k), with k = 1 on f, i, o and 0 on g.
        Q = np.subtract(self._shift * 2, G)
        Q *= G
        Q += self._scale * 2 - 1
        Q[:, :, :H] *= cs[:T]  # dA_f = ds * c_prev * f (1 - f)
        Q[:, :, H : 2 * H] *= i  # dA_g = ds * i * (1 - g^2)
        Q[:, :, 2 * H : 3 * H] *= g  # dA_i = ds * g * i (1 - i)
        Q[:, :, 3 * H :] *= tanh_c  # dA_o = dh * tanh(c) * o (1 - o)
        P = np.multiply(tanh_c, tanh_c)
        np.subtract(1, P, out=P)
        P *= o  # ds = dc + dh * o (1 - tanh(c)^2)
        Wh_t = np.ascontiguousarray(Wh.T)

        dA = np.empty((T, N, H4), dtype=dtype)
        dh = np.zeros((N, H), dtype=dtype)
        dc = np.zeros((N, H), dtype=dtype)
        ds = np.empty((N, H), dtype=dtype)
        for t in reversed(range(T)):
            dh += dhs_tm[t]
            np.multiply(dh, P[t], out=ds)
            ds += dc
            Qt, dAt = Q[t], dA[t]
            np.multiply(
                ds[:, None, :],
                Qt[:, : 3 * H].reshape(N, 3, H),
                out=dAt[:, : 3 * H].reshape(N, 3, H),
            )
            np.multiply(dh, Qt[:, 3 * H :], out=dAt[:, 3 * H :])
            np.multiply(ds, f[t], out=dc)
            np.matmul(dAt, Wh_t, out=dh)
        dA2 = dA.reshape(T * N, H4)
        dWb = XH[:T].reshape(T * N, D + H + 1).T @ dA2  # rows: dWx, dWh, db
        self.grads[0][...] = dWb[:D]
        self.grads[1][...] = dWb[D : D + H]
        self.grads[2][...] = dWb[D + H]
        self.dh = dh
        dxs = (dA2 @ Wx.T).reshape(T, N, D)
        return np.ascontiguousarray(dxs.transpose(1, 0, 2))


class TimeBiLSTM:
    """Bidirectional LSTM (ch. 8.5.3): one :class:`TimeLSTM` reads the sequence forwards, the
    other backwards, and their hidden states are concatenated: ``(N, T, D)`` to ``(N, T, 2H)``.

    Parameters
    ----------
    Wx1, Wh1, b1 : the forward LSTM's weights, shapes (D, 4H), (H, 4H), (4H,)
    Wx2, Wh2, b2 : the backward LSTM's
    """

    def __init__(
        self,
        Wx1: ArrayLike,
        Wh1: ArrayLike,
        b1: ArrayLike,
        Wx2: ArrayLike,
        Wh2: ArrayLike,
        b2: ArrayLike,
        stateful: bool = False,
    ) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads
        self._H: int | None = None

    def forward(self, xs: ArrayLike) -> NDArray:
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(np.asarray(xs)[:, ::-1])[:, ::-1]
        self._H = o1.shape[2]
        return np.concatenate((o1, o2), axis=2)

    def backward(self, dhs: NDArray) -> NDArray:
        H = _need(self._H, self)
        dx1 = self.forward_lstm.backward(dhs[:, :, :H])
        dx2 = self.backward_lstm.backward(dhs[:, ::-1, H:])[:, ::-1]
        return dx1 + dx2


# -- appendix: GRU -----------------------------------------------------------------------------


class GRU:
    """One GRU step (the book's appendix), with a bias the book leaves out.

    ``z = σ(x Wxz + h Whz + bz)``, ``r = σ(x Wxr + h Whr + br)``,
    ``h̃ = tanh(x Wxh + (r h) Whh + bh)``, ``h_next = (1 - z) h + z h̃``.

    Parameters
    ----------
    Wx : ndarray, shape (D, 3H), columns ``z, r, h``
    Wh : ndarray, shape (H, 3H)
    b : ndarray, shape (3H,)
    """

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.cache: tuple | None = None

    def forward(self, x: NDArray, h_prev: NDArray) -> NDArray:
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        x = np.asarray(x, dtype=Wx.dtype)
        h_prev = np.asarray(h_prev, dtype=Wx.dtype)
        xa = x @ Wx + b
        z = sigmoid_(xa[:, :H] + h_prev @ Wh[:, :H])
        r = sigmoid_(xa[:, H : 2 * H] + h_prev @ Wh[:, H : 2 * H])
        h_hat = np.tanh(xa[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :])
        h_next = (1 - z) * h_prev + z * h_hat
        self.cache = (x, h_prev, z, r, h_hat)
        return h_next

    def backward(self, dh_next: NDArray) -> tuple[NDArray, NDArray]:
        x, h_prev, z, r, h_hat = _need(self.cache, self)
        Wx, Wh, _ = self.params
        H = Wh.shape[0]
        dt_h = dh_next * z * (1 - h_hat**2)
        dhr = dt_h @ Wh[:, 2 * H :].T
        dt_z = dh_next * (h_hat - h_prev) * z * (1 - z)
        dt_r = dhr * h_prev * r * (1 - r)
        dA = np.hstack((dt_z, dt_r, dt_h))
        self.grads[0][...] = x.T @ dA
        self.grads[1][:, : 2 * H] = h_prev.T @ dA[:, : 2 * H]
        self.grads[1][:, 2 * H :] = (r * h_prev).T @ dt_h
        self.grads[2][...] = dA.sum(axis=0)
        dx = dA @ Wx.T
        dh_prev = dh_next * (1 - z) + dhr * r + dA[:, : 2 * H] @ Wh[:, : 2 * H].T
        return dx, dh_prev


class TimeGRU:
    """T :class:`GRU` steps over ``(N, T, D)`` input, returning ``hs`` (N, T, H); stateful
    like :class:`TimeRNN`."""

    def __init__(self, Wx: ArrayLike, Wh: ArrayLike, b: ArrayLike, stateful: bool = False) -> None:
        self.params = _float_params(Wx, Wh, b)
        self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful
        self.h: NDArray | None = None
        self.dh: NDArray | None = None
        self.layers: list[GRU] | None = None

    def set_state(self, h: ArrayLike) -> None:
        self.h = np.array(h, dtype=self.params[0].dtype)

    def reset_state(self) -> None:
        self.h = None

    def forward(self, xs: ArrayLike) -> NDArray:
        Wx, Wh, b = self.params
        D, H = Wx.shape[0], Wh.shape[0]
        xs = _sequence(xs, self, D, Wx.dtype)
        N, T, _ = xs.shape
        hs = np.empty((N, T, H), dtype=Wx.dtype)
        h = self.h if self.stateful and self.h is not None else None
        h = np.zeros((N, H), dtype=Wx.dtype) if h is None else _state(h, (N, H), Wx.dtype, "h")
        self.layers = []
        for t in range(T):
            layer = GRU.__new__(GRU)  # shares this layer's params; grads summed in backward
            layer.params, layer.grads, layer.cache = self.params, [], None
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            self.layers.append(layer)
        self.h = h
        return hs

    def backward(self, dhs: ArrayLike) -> NDArray:
        layers = _need(self.layers, self)
        Wx = self.params[0]
        dhs = np.asarray(dhs, dtype=Wx.dtype)
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), dtype=Wx.dtype)
        grads = [np.zeros_like(p) for p in self.params]
        dh = np.zeros_like(dhs[:, 0, :])
        for t in reversed(range(T)):
            layer = layers[t]
            layer.grads = [np.zeros_like(p) for p in self.params]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for acc, gr in zip(grads, layer.grads, strict=True):
                acc += gr
        for dst, src in zip(self.grads, grads, strict=True):
            dst[...] = src
        self.dh = dh
        return dxs
