"""Numerical differentiation (ch. 4.3), gradient descent (ch. 4.4.1) and the gradient check
(ch. 5.6.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scratchdl.checks import check_positive
from scratchdl.errors import InputTypeError, ShapeError
from scratchdl.functions import real_array
from scratchdl.layers import Relu

if TYPE_CHECKING:
    from scratchdl.nets import Net

__all__ = [
    "gradient_check",
    "gradient_descent",
    "kink_samples",
    "numerical_diff",
    "numerical_gradient",
]


def _check_net(net: Any, name: str) -> None:
    missing = [
        attr
        for attr in ("params", "loss", "gradient", "numerical_gradient", "astype")
        if not hasattr(net, attr)
    ]
    if missing:
        raise InputTypeError(
            f"{name} needs a scratchdl network (TwoLayerNet, MultiLayerNet, SimpleNet, ...), got "
            f"{type(net).__name__}, which has no {', '.join(missing)}"
        )


def numerical_diff(f: Callable[[Any], Any], x: float, h: float = 1e-4) -> float:
    """Central difference ``(f(x + h) - f(x - h)) / 2h``.

    Its error is O(h²), against O(h) for the forward difference.
    """
    check_positive(h, "h")
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f: Callable[[NDArray], Any], x: NDArray, h: float = 1e-4) -> NDArray:
    """Gradient of scalar ``f`` at ``x`` by central differences, for ``x`` of any shape.

    ``x`` is perturbed in place, one element at a time, because ``f`` is usually a closure over
    the very array being differentiated (a weight matrix). Each element is restored to its exact
    original bits afterwards, even when ``f`` raises.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray, any shape, floating dtype
        Point of evaluation; modified during the call and restored before it returns.
    h : float
        Step size.

    Returns
    -------
    ndarray of ``x``'s shape and dtype
    """
    check_positive(h, "h")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ShapeError(
            "numerical_gradient needs a floating NumPy array it can perturb in place, got "
            f"{type(x).__name__} {getattr(x, 'dtype', '')}: pass np.asarray(x, dtype=float)"
        )
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1) if x.flags.c_contiguous else None
    if flat_x is None:
        raise ShapeError(
            "numerical_gradient needs a C-contiguous array: pass np.ascontiguousarray(x)"
        )
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        original = flat_x[i].copy()
        try:
            flat_x[i] = original + h
            fxh1 = f(x)
            flat_x[i] = original - h
            fxh2 = f(x)
        finally:
            flat_x[i] = original
        flat_g[i] = (fxh1 - fxh2) / (2 * h)
    return grad


def gradient_descent(
    f: Callable[[NDArray], Any],
    init_x: ArrayLike,
    lr: float = 0.01,
    step_num: int = 100,
    history: bool = False,
) -> NDArray | tuple[NDArray, NDArray]:
    """Minimise ``f`` by ``x <- x - lr * grad f(x)`` with numerical gradients.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    init_x : array_like, shape (D,)
        Starting point; not modified. The descent runs in float64, because central
        differences with ``h = 1e-4`` lose most of float32's digits; a float32 or float16
        ``init_x`` gets its result (and path) back in its own dtype.
    lr : float
        Learning rate.
    step_num : int
        Number of steps.
    history : bool
        Also return the path.

    Returns
    -------
    x : ndarray, shape (D,)
        The final point.
    path : ndarray, shape (step_num, D)
        Only with ``history=True``: the point before each step, as in the book.
    """
    start = np.asarray(init_x)
    x = np.array(start, dtype=np.result_type(start.dtype, np.float64), copy=True)
    out_dtype = start.dtype if np.issubdtype(start.dtype, np.floating) else x.dtype
    path = []
    for _ in range(step_num):
        if history:
            path.append(x.copy())
        x -= lr * numerical_gradient(f, x)
    x = x.astype(out_dtype, copy=False)
    if history:
        return x, np.array(path, dtype=out_dtype).reshape(step_num, *x.shape)
    return x


def gradient_check(net: Net, x: ArrayLike, t: ArrayLike, h: float = 1e-4) -> dict[str, float]:
    """Compare backprop with numerical gradients, in float64.

    The check runs on a float64 copy of ``net`` (float32 rounding alone would swamp the
    difference), so ``net`` itself is never touched. With ReLU, a sample whose step ``h``
    crosses a kink makes the numerical side wrong: find such samples with
    :func:`kink_samples` and leave them out.

    Parameters
    ----------
    net : Net
        Any network of the Net contract (:mod:`scratchdl.nets`): layered or not.
    x : array_like, shape (N, D)
        Inputs.
    t : array_like
        Labels or one-hot targets.
    h : float
        Step of the central difference.

    Returns
    -------
    dict
        ``{param_name: mean |numerical - backprop|}``.
    """
    _check_net(net, "gradient_check")
    check_positive(h, "h")
    net64 = net.astype(np.float64)
    x = np.asarray(real_array(x), dtype=np.float64)
    grad_num = net64.numerical_gradient(x, t, h=h)
    grad_bp = net64.gradient(x, t)
    return {key: float(np.mean(np.abs(grad_bp[key] - grad_num[key]))) for key in grad_num}


def kink_samples(net: Net, x: ArrayLike, t: ArrayLike, h: float = 1e-4) -> NDArray[np.bool_]:
    """Which samples let a central difference of step ``h`` cross a ReLU kink.

    Runs the very perturbations of the gradient check (every parameter of the float64 copy of
    ``net`` moved by ``±h``, one at a time) and flags a sample when any ReLU of the network
    switches on or off for it compared with the unperturbed parameters. Only the forward pass
    is used, so a wrong ``backward`` cannot hide behind this. Samples are independent in the
    forward pass, so leaving out or redrawing flagged samples does not affect the others.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    _check_net(net, "kink_samples")
    check_positive(h, "h")
    net64 = net.astype(np.float64)
    x = np.asarray(real_array(x), dtype=np.float64)
    flagged = np.zeros(len(x), dtype=bool)
    relus = [la for la in getattr(net64, "layers", {}).values() if isinstance(la, Relu)]
    if not relus or len(x) == 0:
        return flagged
    net64.loss(x, t)
    base = [layer.mask.copy() for layer in relus]

    def loss_w(_: NDArray) -> float:
        value = net64.loss(x, t)
        for layer, mask in zip(relus, base, strict=True):
            flagged[:] |= (layer.mask != mask).reshape(len(x), -1).any(axis=1)
        return value

    for key in net64.params:
        numerical_gradient(loss_w, net64.params[key], h=h)
    return flagged
