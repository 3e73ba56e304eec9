"""Halving the learning rate on a validation plateau, in a way that survives a resume.

Keras' ``ReduceLROnPlateau`` counts epochs without a gain in the callback object, and a
resumed run builds a new one: it would wait ``patience`` fresh epochs before the next
halving, where an unbroken run might halve at once. :func:`plateau_halving` gives it the
run's history, which it replays through Keras' own rule before the first new epoch; the
learning rate itself comes back with the optimizer from ``last.keras``.
"""
from types import SimpleNamespace


def plateau_halving(keras, *, monitor: str, patience: int, history=(), factor: float = 0.5):
    """A ``ReduceLROnPlateau`` (mode max) that starts where the epochs in ``history`` left it.

    ``history`` holds the rows already trained, oldest first: dicts with ``monitor`` and ``lr``.

    >>> import keras
    >>> rows = [{"val_accuracy": a, "lr": 0.1} for a in (0.5, 0.4, 0.4)]
    >>> cb = plateau_halving(keras, monitor="val_accuracy", patience=3, history=rows)
    >>> cb.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    >>> cb.on_train_begin()
    >>> float(cb.best), cb.wait
    (0.5, 2)
    """
    rows = [row for row in history if row.get(monitor) is not None]

    class PlateauHalving(keras.callbacks.ReduceLROnPlateau):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            model = self.model
            try:
                for epoch, row in enumerate(rows):
                    # Replayed on a stand-in holding the logged rate: the model's own rate stays.
                    self.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=float(row["lr"]))))
                    super().on_epoch_end(epoch, {monitor: float(row[monitor])})
            finally:
                self.set_model(model)

    return PlateauHalving(monitor, factor=factor, patience=patience, mode="max")
