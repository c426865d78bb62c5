"""The book's CNNs (ch. 7.5 SimpleConvNet, ch. 8.1 DeepConvNet) computed the book's way, for
``bench_conv.py``: a baseline written here in the book's style (not the book's code, which this
repository does not contain; ``--book-code`` times that when you have it).

What makes it the book's way, and slower than scratchdl's layers:

* float64 throughout (the book's weights and its ``im2col`` buffer are float64);
* ``im2col`` pads the images, fills a 6-d (N, C, FH, FW, out_h, out_w) array offset by offset,
  then transposes and reshapes it into the (N*out_h*out_w, C*FH*FW) matrix: a second copy;
* the convolution's output is transposed back to (N, FN, out_h, out_w) by a copy, and
  ``backward`` computes ``dcol`` and folds it with ``col2im``;
* pooling builds the ``im2col`` matrix of its windows and takes ``max`` and ``argmax`` per row;
  its backward scatters into a zero matrix and folds it with ``col2im``;
* ReLU copies its input and zeroes by a boolean mask; Dropout draws ``rand > ratio`` masks;
* Adam in the book's form.

Only the benchmark imports this module.
"""

from __future__ import annotations

import numpy as np


def im2col(x, fh, fw, stride=1, pad=0):
    N, C, H, W = x.shape
    out_h = (H + 2 * pad - fh) // stride + 1
    out_w = (W + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, fh, fw, out_h, out_w))
    for y in range(fh):
        y_max = y + stride * out_h
        for x_ in range(fw):
            x_max = x_ + stride * out_w
            col[:, :, y, x_, :, :] = img[:, :, y:y_max:stride, x_:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    out_h = (H + 2 * pad - fh) // stride + 1
    out_w = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, out_h, out_w, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(fh):
        y_max = y + stride * out_h
        for x_ in range(fw):
            x_max = x_ + stride * out_w
            img[:, :, y:y_max:stride, x_:x_max:stride] += col[:, :, y, x_, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]


class Conv:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x = x
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pool:
    def __init__(self, ph, pw, stride):
        self.ph, self.pw, self.stride = ph, pw, stride

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H - self.ph) // self.stride + 1
        out_w = (W - self.pw) // self.stride + 1
        col = im2col(x, self.ph, self.pw, self.stride).reshape(-1, self.ph * self.pw)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.ph * self.pw
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(*dout.shape, size).reshape(
            dout.shape[0] * dout.shape[1] * dout.shape[2], -1
        )
        return col2im(dcol, self.x.shape, self.ph, self.pw, self.stride)


class ReLU:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        return (dout @ self.W.T).reshape(*self.shape)


class Drop:
    def __init__(self, ratio, rng):
        self.ratio, self.rng = ratio, rng

    def forward(self, x):
        self.mask = self.rng.random(x.shape) > self.ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Net:
    """``layers`` in order, ``params`` the float64 weights they hold, softmax-cross-entropy."""

    def __init__(self, kind, init, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {k: np.array(v, dtype=np.float64) for k, v in init.items()}
        p = self.params
        if kind == "simple":
            self.layers = [
                Conv(p["W1"], p["b1"]),
                ReLU(),
                Pool(2, 2, 2),
                Dense(p["W2"], p["b2"]),
                ReLU(),
                Dense(p["W3"], p["b3"]),
            ]
        else:
            pads = [1, 1, 1, 2, 1, 1]
            self.layers = []
            for i in range(6):
                self.layers += [Conv(p[f"W{i + 1}"], p[f"b{i + 1}"], 1, pads[i]), ReLU()]
                if i % 2 == 1:
                    self.layers.append(Pool(2, 2, 2))
            self.layers += [
                Dense(p["W7"], p["b7"]),
                ReLU(),
                Drop(0.5, rng),
                Dense(p["W8"], p["b8"]),
                Drop(0.5, rng),
            ]
        self.owners = [layer for layer in self.layers if hasattr(layer, "W")]

    def gradient(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        x = x - x.max(axis=1, keepdims=True)
        y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        n = t.shape[0]
        self.loss = -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n
        dout = y.copy()
        dout[np.arange(n), t] -= 1
        dout /= n
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, layer in enumerate(self.owners, start=1):
            grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
        return grads


class BookAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)
