"""Items made on a background thread, a bounded number ahead of their consumer.

``BackgroundIterator`` runs an iterable on one thread (decoding overlapped
with the model, colouring with the encoders); ``map_ahead`` computes a
function over items on a few threads (the evaluation's frames), in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor


class _ProducerFailed:
    """An exception raised on the background thread, on its way to the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


_END_OF_STREAM = object()


class BackgroundIterator:
    """Iterates ``items`` made on a background thread, at most ``depth`` ahead.

    Video decoding and batch stacking then overlap with the model (the
    codecs release the GIL). An exception raised while making an item is re-raised,
    the same object, in the consumer at the point where that item was due.
    ``close()`` (or leaving a ``with`` block) stops the thread: it finishes
    the item it is making, closes ``items`` (a video reader releases its
    file there) and ends; nothing is left running.
    """

    _POLL_S = 0.05  # how often a producer blocked on a full queue checks for close()

    def __init__(self, items: Iterable, depth: int = 2, name: str = "salience-decoder"):
        if depth < 1:
            raise ValueError(f"background depth must be at least 1, got {depth}")
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stopping = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=self._POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        iterator = None
        try:
            iterator = iter(self._items)
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_END_OF_STREAM)
        except BaseException as error:  # noqa: BLE001 - every failure must reach the consumer
            self._put(_ProducerFailed(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # on this thread: a generator cannot be closed while it runs elsewhere

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _END_OF_STREAM:
            self.close()
            raise StopIteration
        if isinstance(item, _ProducerFailed):
            self.close()
            raise item.error
        return item

    def close(self) -> None:
        self._finished = True
        self._stopping.set()
        self._thread.join()
        self._items = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # An abandoned consumer: stop the thread rather than leave it blocked.
        stopping = getattr(self, "_stopping", None)
        if stopping is not None:
            stopping.set()


def map_ahead(func: Callable, items: Iterable, *, workers: int = 1, ahead: int = 4,
              name: str = "salience-map") -> Iterator:
    """Yield ``func(item)`` for each item, in order, computed on ``workers`` threads at most ``ahead`` in advance.

    numpy and the zarr codecs release the GIL, so threads use several cores;
    ``ahead`` bounds the results held at once. An error of ``func`` is raised
    where its item's result was due.
    """
    with ThreadPoolExecutor(workers, name) as pool, \
            BackgroundIterator((pool.submit(func, item) for item in items), ahead, f"{name}-feed") as futures:
        for future in futures:
            yield future.result()
