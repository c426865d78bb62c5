"""Time a TimeLSTM step three ways in one process: ours, a book-style reference, PyTorch.

Two workloads, both forward + backward (no update), batch 20, 35 time steps, hidden 100:

* ``lstm``: the TimeLSTM layer alone on (20, 35, 100) input, with a fixed upstream gradient.
* ``rnnlm``: the whole ch. 6 ``Rnnlm`` (vocabulary 10,000, word vectors 100): TimeEmbedding,
  stateful TimeLSTM, TimeAffine, TimeSoftmaxWithLoss, on fixed random word ids.

Contenders:

* ``ours``: :class:`scratchdl.time_layers.TimeLSTM` and :class:`scratchdl.rnnlm.Rnnlm`
  (float32).
* ``book``: a reference written here from the book's equations and structure (ch. 6.3: one
  ``LSTM`` object per time step computing ``x Wx + h Wh + b``, four gate slices, sigmoids as
  ``1 / (1 + exp(-x))``, ``np.hstack`` of the four gate gradients, per-step ``dWx``/``dWh``
  GEMMs summed over steps; TimeEmbedding as T Embedding layers with ``np.add.at``; its softmax
  and loss), float32 like the book. It is not the book's file; the book's code is not in this
  repository.
* ``torch``: ``nn.LSTM`` (and ``nn.Embedding`` + ``nn.Linear`` + cross entropy) on the CPU,
  with the same weights (gates reordered), skipped when PyTorch is not installed.

Rounds are interleaved (the order alternates each round) so a busy spell of the shared machine
hits every contender. Wall time and the process's CPU time are both reported: on a machine
shared with other work, CPU time (with one thread) is the steadier of the two. Each thread count in ``--threads`` (default ``1,2``) runs in a child
process started with ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set (they
must be set before NumPy loads) and ``torch.set_num_threads`` to the same number. The script
first checks that the three compute the same loss and gradients (to float32 rounding).

Usage::

    python benchmarks/bench_lstm.py                      # threads 1 and 2, 7 rounds
    python benchmarks/bench_lstm.py --threads 1 --rounds 3 --steps 10

Only this script imports PyTorch; the library never does.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

N, T, D, H, V = 20, 35, 100, 100, 10000
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# -- the book-style reference (written from the book's equations, ch. 5-6) ----------------------
def book_reference():
    import numpy as np

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        x = np.exp(x)
        x /= x.sum(axis=1, keepdims=True)
        return x

    class LSTM:
        def __init__(self, Wx, Wh, b):
            self.params = [Wx, Wh, b]
            self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

        def forward(self, x, h_prev, c_prev):
            Wx, Wh, b = self.params
            Hn = h_prev.shape[1]
            A = np.dot(x, Wx) + np.dot(h_prev, Wh) + b
            f = sigmoid(A[:, :Hn])
            g = np.tanh(A[:, Hn : 2 * Hn])
            i = sigmoid(A[:, 2 * Hn : 3 * Hn])
            o = sigmoid(A[:, 3 * Hn :])
            c_next = f * c_prev + g * i
            h_next = o * np.tanh(c_next)
            self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
            return h_next, c_next

        def backward(self, dh_next, dc_next):
            Wx, Wh, _ = self.params
            x, h_prev, c_prev, i, f, g, o, c_next = self.cache
            tanh_c = np.tanh(c_next)
            ds = dc_next + (dh_next * o) * (1 - tanh_c**2)
            dc_prev = ds * f
            di, df, do, dg = ds * g, ds * c_prev, dh_next * tanh_c, ds * i
            di *= i * (1 - i)
            df *= f * (1 - f)
            do *= o * (1 - o)
            dg *= 1 - g**2
            dA = np.hstack((df, dg, di, do))
            self.grads[0][...] = np.dot(x.T, dA)
            self.grads[1][...] = np.dot(h_prev.T, dA)
            self.grads[2][...] = dA.sum(axis=0)
            return np.dot(dA, Wx.T), np.dot(dA, Wh.T), dc_prev

    class TimeLSTM:
        def __init__(self, Wx, Wh, b, stateful=False):
            self.params = [Wx, Wh, b]
            self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
            self.h = self.c = None
            self.stateful = stateful

        def set_state(self, h, c=None):
            self.h, self.c = h, c

        def reset_state(self):
            self.h, self.c = None, None

        def forward(self, xs):
            Wx, Wh, b = self.params
            Nn, Tn, _ = xs.shape
            Hn = Wh.shape[0]
            self.layers = []
            hs = np.empty((Nn, Tn, Hn), dtype="f")
            if not self.stateful or self.h is None:
                self.h = np.zeros((Nn, Hn), dtype="f")
            if not self.stateful or self.c is None:
                self.c = np.zeros((Nn, Hn), dtype="f")
            for t in range(Tn):
                layer = LSTM(*self.params)
                self.h, self.c = layer.forward(xs[:, t, :], self.h, self.c)
                hs[:, t, :] = self.h
                self.layers.append(layer)
            return hs

        def backward(self, dhs):
            Wx = self.params[0]
            Nn, Tn, _ = dhs.shape
            dxs = np.empty((Nn, Tn, Wx.shape[0]), dtype="f")
            dh, dc = 0, 0
            grads = [0, 0, 0]
            for t in reversed(range(Tn)):
                layer = self.layers[t]
                dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
                dxs[:, t, :] = dx
                for k, grad in enumerate(layer.grads):
                    grads[k] += grad
            for k, grad in enumerate(grads):
                self.grads[k][...] = grad
            return dxs

    class Embedding:
        def __init__(self, W):
            self.params, self.grads = [W], [np.zeros_like(W)]

        def forward(self, idx):
            self.idx = idx
            return self.params[0][idx]

        def backward(self, dout):
            dW = self.grads[0]
            dW[...] = 0
            np.add.at(dW, self.idx, dout)

    class TimeEmbedding:
        def __init__(self, W):
            self.params, self.grads, self.W = [W], [np.zeros_like(W)], W

        def forward(self, xs):
            Nn, Tn = xs.shape
            out = np.empty((Nn, Tn, self.W.shape[1]), dtype="f")
            self.layers = []
            for t in range(Tn):
                layer = Embedding(self.W)
                out[:, t, :] = layer.forward(xs[:, t])
                self.layers.append(layer)
            return out

        def backward(self, dout):
            grad = 0
            for t in range(dout.shape[1]):
                self.layers[t].backward(dout[:, t, :])
                grad += self.layers[t].grads[0]
            self.grads[0][...] = grad

    class TimeAffine:
        def __init__(self, W, b):
            self.params, self.grads = [W, b], [np.zeros_like(W), np.zeros_like(b)]

        def forward(self, x):
            Nn, Tn, _ = x.shape
            W, b = self.params
            self.x = x
            return (np.dot(x.reshape(Nn * Tn, -1), W) + b).reshape(Nn, Tn, -1)

        def backward(self, dout):
            x = self.x
            Nn, Tn, _ = x.shape
            W, _ = self.params
            dout = dout.reshape(Nn * Tn, -1)
            rx = x.reshape(Nn * Tn, -1)
            self.grads[1][...] = np.sum(dout, axis=0)
            self.grads[0][...] = np.dot(rx.T, dout)
            return np.dot(dout, W.T).reshape(*x.shape)

    class TimeSoftmaxWithLoss:
        def forward(self, xs, ts):
            Nn, Tn, Vn = xs.shape
            xs = xs.reshape(Nn * Tn, Vn)
            ts = ts.reshape(Nn * Tn)
            mask = ts != -1
            ys = softmax(xs)
            ls = np.log(ys[np.arange(Nn * Tn), ts])
            ls *= mask
            self.cache = (ts, ys, mask, (Nn, Tn, Vn))
            return -np.sum(ls) / mask.sum()

        def backward(self, dout=1):
            ts, ys, mask, (Nn, Tn, Vn) = self.cache
            dx = ys
            dx[np.arange(Nn * Tn), ts] -= 1
            dx *= dout
            dx /= mask.sum()
            dx *= mask[:, np.newaxis]
            return dx.reshape((Nn, Tn, Vn))

    class Rnnlm:
        def __init__(self, params):
            embed_W, Wx, Wh, b, aW, ab = params
            self.layers = [
                TimeEmbedding(embed_W),
                TimeLSTM(Wx, Wh, b, stateful=True),
                TimeAffine(aW, ab),
            ]
            self.loss_layer = TimeSoftmaxWithLoss()
            self.params, self.grads = [], []
            for layer in self.layers:
                self.params += layer.params
                self.grads += layer.grads

        def forward(self, xs, ts):
            for layer in self.layers:
                xs = layer.forward(xs)
            return self.loss_layer.forward(xs, ts)

        def backward(self, dout=1):
            dout = self.loss_layer.backward(dout)
            for layer in reversed(self.layers):
                dout = layer.backward(dout)

    return {
        "LSTM": LSTM,
        "TimeLSTM": TimeLSTM,
        "Embedding": Embedding,
        "TimeEmbedding": TimeEmbedding,
        "TimeAffine": TimeAffine,
        "TimeSoftmaxWithLoss": TimeSoftmaxWithLoss,
        "Rnnlm": Rnnlm,
        "softmax": softmax,
        "sigmoid": sigmoid,
    }


# -- contenders --------------------------------------------------------------------------------
def setup(threads: int):
    import numpy as np

    from scratchdl.rnnlm import Rnnlm

    ours_model = Rnnlm(V, D, H, rng=0)
    # Trained-looking gates: the LSTM biases and weights as drawn by Rnnlm, the rest random ids.
    rng = np.random.default_rng(1)
    params = [p.copy() for p in ours_model.params]
    params[3][...] = rng.standard_normal(4 * H).astype(np.float32) * 0.1
    for p, q in zip(ours_model.params, params, strict=True):
        p[...] = q
    xs_ids = rng.integers(0, V, (N, T))
    ts_ids = rng.integers(0, V, (N, T))
    x_seq = rng.standard_normal((N, T, D)).astype(np.float32)
    dhs = rng.standard_normal((N, T, H)).astype(np.float32)

    from scratchdl.time_layers import TimeLSTM

    ours_lstm = TimeLSTM(*[p.copy() for p in params[1:4]])
    ref = book_reference()
    BookTimeLSTM, BookRnnlm = ref["TimeLSTM"], ref["Rnnlm"]
    book_lstm = BookTimeLSTM(*[p.copy() for p in params[1:4]])
    book_model = BookRnnlm([p.copy() for p in params])

    def ours_lstm_step():
        ours_lstm.forward(x_seq)
        return ours_lstm.backward(dhs)

    def book_lstm_step():
        book_lstm.forward(x_seq)
        return book_lstm.backward(dhs)

    def ours_rnnlm_step():
        loss = ours_model.forward(xs_ids, ts_ids)
        ours_model.backward()
        return loss

    def book_rnnlm_step():
        loss = book_model.forward(xs_ids, ts_ids)
        book_model.backward()
        return loss

    contenders: dict[str, dict[str, Callable]] = {
        "lstm": {"ours": ours_lstm_step, "book": book_lstm_step},
        "rnnlm": {"ours": ours_rnnlm_step, "book": book_rnnlm_step},
    }
    # Same numbers first (the reference's state starts where ours does).
    ours_model.reset_state()
    book_model.layers[1].h = book_model.layers[1].c = None
    a, b = ours_rnnlm_step(), book_rnnlm_step()
    assert abs(a - b) < 1e-3 * abs(b), (a, b)
    for g1, g2 in zip(ours_model.grads, book_model.grads, strict=True):
        assert np.allclose(g1, g2, rtol=1e-2, atol=1e-5), "ours and the book's gradients differ"
    np.testing.assert_allclose(ours_lstm_step(), book_lstm_step(), rtol=1e-3, atol=1e-5)
    notes = {"loss": f"{a:.4f} (ours) {b:.4f} (book)"}

    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)
        perm = np.r_[2 * H : 3 * H, 0:H, H : 2 * H, 3 * H : 4 * H]  # book f,g,i,o -> torch i,f,g,o

        def torch_lstm_module():
            m = torch.nn.LSTM(D, H, batch_first=True)
            with torch.no_grad():
                m.weight_ih_l0.copy_(torch.from_numpy(params[1][:, perm].T.copy()))
                m.weight_hh_l0.copy_(torch.from_numpy(params[2][:, perm].T.copy()))
                m.bias_ih_l0.copy_(torch.from_numpy(params[3][perm].copy()))
                m.bias_hh_l0.zero_()
            return m

        t_lstm = torch_lstm_module()
        tx = torch.from_numpy(x_seq).requires_grad_(True)
        tdhs = torch.from_numpy(dhs)

        def torch_lstm_step():
            t_lstm.zero_grad(set_to_none=True)
            tx.grad = None
            out, _ = t_lstm(tx)
            out.backward(tdhs)
            return tx.grad

        emb = torch.nn.Embedding(V, D)
        lstm = torch_lstm_module()
        lin = torch.nn.Linear(H, V)
        with torch.no_grad():
            emb.weight.copy_(torch.from_numpy(params[0]))
            lin.weight.copy_(torch.from_numpy(params[4].T.copy()))
            lin.bias.copy_(torch.from_numpy(params[5]))
        txs = torch.from_numpy(xs_ids)
        tts = torch.from_numpy(ts_ids).reshape(-1)
        state: list = [None]
        modules = (emb, lstm, lin)

        def torch_rnnlm_step():
            for m in modules:
                m.zero_grad(set_to_none=True)
            out, (h, c) = lstm(emb(txs), state[0])
            state[0] = (h.detach(), c.detach())  # stateful, truncated like ours
            loss = torch.nn.functional.cross_entropy(lin(out).reshape(N * T, V), tts)
            loss.backward()
            return float(loss.detach())

        np.testing.assert_allclose(
            torch_lstm_step().numpy(), ours_lstm_step(), rtol=1e-3, atol=1e-5
        )
        ours_model.reset_state()
        c = torch_rnnlm_step()
        a = ours_rnnlm_step()
        assert abs(a - c) < 1e-3 * abs(c), (a, c)
        notes["loss"] += f" {c:.4f} (torch)"
        contenders["lstm"]["torch"] = torch_lstm_step
        contenders["rnnlm"]["torch"] = torch_rnnlm_step
        notes["torch"] = torch.__version__
    return contenders, notes


def child(threads: int, rounds: int, steps: int) -> None:
    import numpy as np

    contenders, notes = setup(threads)
    print(f"== {threads} thread(s); numpy {np.__version__}; same loss: {notes['loss']}")
    if "torch" in notes:
        print(f"   torch {notes['torch']}, torch.get_num_threads() = {threads}")
    for workload, fns in contenders.items():
        names = list(fns)
        times: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for fn in fns.values():  # warm-up
            for _ in range(2):
                fn()
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                fn = fns[name]
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps):
                    fn()
                times[name].append((time.perf_counter() - t0) / steps)
                cpu[name].append((time.process_time() - c0) / steps)
        for label, table in (("wall", times), ("CPU (the process's)", cpu)):
            print(
                f"-- {workload}: {label} ms per forward+backward (best / median of {rounds} rounds)"
            )
            best = {n: min(v) for n, v in table.items()}
            med = {n: statistics.median(v) for n, v in table.items()}
            for n in names:
                ratio = ""
                if n != "ours":
                    ratio = (
                        f"   {n}/ours: best {best[n] / best['ours']:.2f}x, "
                        f"median {med[n] / med['ours']:.2f}x"
                    )
                print(f"   {n:6s} {best[n] * 1e3:8.2f} / {med[n] * 1e3:8.2f}{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.rounds, args.steps)
        return
    print(f"load average: {os.getloadavg()[0]:.2f} (2-core machine shared with others)")
    for n in [int(s) for s in args.threads.split(",")]:
        env = dict(os.environ, **{v: str(n) for v in THREAD_VARS})
        cmd = [sys.executable, __file__, "--child", str(n)]
        cmd += ["--rounds", str(args.rounds), "--steps", str(args.steps)]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
