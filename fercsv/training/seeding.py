"""Training as a pure function of its seed: the same seed gives the same run, resumed or not.

Three sources of chance make a Keras run differ from the next: the initial weights, the
input (order and augmentation, made stateless in :mod:`fercsv.training.pipeline`), and
the model's own draws (dropout). Keras keeps the dropout draws in seed-generator
variables that a saved ``.keras`` file does not restore: a reloaded model starts them
from a new random value. :func:`epoch_seeds` sets them at the start of every epoch from
``(seed, epoch)``, so a run resumed from ``last.keras`` draws the masks an uninterrupted
run would have drawn.

This holds on one machine's CPU. Multi-worker runs leave the dropout generators to Keras,
and GPU kernels may add up in any order unless TensorFlow's op determinism is enabled.
"""
import numpy as np


def seed_states(model) -> list:
    """The state variables of ``model``'s Keras seed generators (dropout and the like), in order.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5), keras.layers.Dense(2)])
    >>> len(seed_states(net))
    1
    """
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


def set_epoch_seeds(model, *, seed: int, epoch: int) -> None:
    """Set every seed generator of ``model`` to a state that depends only on ``(seed, epoch)``.

    >>> import keras, numpy as np
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5)])
    >>> set_epoch_seeds(net, seed=0, epoch=2)
    >>> a = net(np.ones((1, 4)), training=True).numpy()
    >>> set_epoch_seeds(net, seed=0, epoch=2)
    >>> bool((a == net(np.ones((1, 4)), training=True).numpy()).all())
    True
    """
    states = seed_states(model)
    # A generator's state is (key, counter), and each draw adds one to the counter.
    keys = np.random.default_rng([seed, epoch, 0x5EED]).integers(1, 2**31 - 2, len(states))
    for state, key in zip(states, keys):
        state.assign(np.array([key, 0], dtype=state.dtype))


def epoch_seeds(keras, *, seed: int):
    """A Keras callback that calls :func:`set_epoch_seeds` at the start of each epoch."""

    class EpochSeeds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            set_epoch_seeds(self.model, seed=seed, epoch=epoch)

    return EpochSeeds()
