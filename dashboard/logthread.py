"""The event log on its own OS thread, so an fsync never stalls the live broadcast.

The log commits with ``synchronous=FULL``: one fsync per commit, 4-10 ms on
the disk this was measured on. Under gevent a blocking call in C stops every
greenlet, so every browser would wait for the disk. Here each ``EventLog``
call runs on one dedicated real thread (SQLite releases the GIL while it
waits for the disk) and the calling greenlet or thread just waits for the
result; the event loop keeps serving sockets meanwhile. One thread, because
an SQLite connection belongs to the thread that opened it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class LogThread:
    """An ``EventLog`` whose every call runs on one dedicated OS thread.

    :param open_log: builds the log (called on that thread), e.g. ``lambda: EventLog(path)``.
    :param async_mode: ``gevent`` uses gevent's pool of real threads (a plain
        thread would be a greenlet after monkey-patching); anything else a
        ``ThreadPoolExecutor``.
    """

    def __init__(self, open_log: Callable[[], Any], async_mode: str = "threading") -> None:
        if async_mode == "gevent":
            from gevent.threadpool import ThreadPool

            pool = ThreadPool(1)
            self._call: Callable[..., Any] = lambda fn, *args: pool.apply(fn, args)
            self._shutdown = pool.kill
        else:
            executor = ThreadPoolExecutor(1, thread_name_prefix="event-log")
            self._call = lambda fn, *args: executor.submit(fn, *args).result()
            self._shutdown = executor.shutdown
        self.log = self._call(open_log)

    def append_many(self, events: Iterable[Any]) -> list[int]:
        """Append in one transaction; returns when durable (see ``EventLog.append_many``)."""
        return self._call(self.log.append_many, list(events))

    def append(self, event: Any) -> int:
        """Append one event; returns when durable."""
        return self.append_many((event,))[0]

    def events(self) -> list[Any]:
        """Every stored event, in order (read on the log's thread)."""
        return self._call(lambda: list(self.log.events()))

    def close(self) -> None:
        """Close the log and end the thread."""
        self._call(self.log.close)
        self._shutdown()
