"""Ch. 4.5: the book's train_neuralnet.py loop over scratchdl (sigmoid TwoLayerNet, SGD 0.1).

Mini-batches of 100, 10,000 updates, train and test accuracy printed once per epoch as the book
does; it ends near the book's 0.95. MNIST comes from SCRATCHDL_DATA_DIR or the user cache (it is
downloaded there on first use; `scratchdl data fetch` does that ahead of time).
"""

import numpy as np

from scratchdl.data import load_mnist
from scratchdl.nets import TwoLayerNet

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, activation="sigmoid", rng=0)
rng = np.random.default_rng(0)

iters_num, batch_size, learning_rate = 10000, 100, 0.1
train_size = x_train.shape[0]
iter_per_epoch = max(train_size // batch_size, 1)
train_loss_list = []

for i in range(iters_num):
    batch_mask = rng.choice(train_size, batch_size)
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
    grad = network.gradient(x_batch, t_batch)  # backprop; numerical_gradient is ch. 4's slow way
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= learning_rate * grad[key]
    train_loss_list.append(network.last_loss)  # the loss of gradient's forward pass
    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        print(f"train acc, test acc | {train_acc:.4f}, {test_acc:.4f}")
