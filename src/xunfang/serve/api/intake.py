"""Call intake with group commit.

Each acknowledged call (HTTP 201) must be on disk first, and on SQLite with
``synchronous=FULL`` a commit costs one fsync (about 5 ms on this machine's virtual
disk), which would cap intake near 200 calls/s if every call had its own transaction.
The intake writer is one thread that takes every call waiting in its queue (up to
``batch_max``), inserts them with their lifecycle and audit rows in ONE transaction and
commits once; only then are the waiting requests answered. Under load the batches grow
by themselves (calls arrive while the previous fsync runs), so throughput scales with
load while each acknowledgement still follows a durable commit. This is the group commit
of database engines (Gawlick & Kinkade 1985; PostgreSQL's ``commit_delay``), moved into
the application because SQLite serialises writers.

If a batch fails, its calls are retried one by one so that one bad row cannot fail the
others; a call whose own transaction fails gets the error.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.models import Call

log = logging.getLogger("xunfang.serve")


@dataclass
class PendingCall:
    """A call waiting to be written: the row, who took it, from where."""

    row: Call
    role: str
    client: str
    future: Future[int] = field(default_factory=Future)


_STOP = object()


class IntakeWriter:
    """The group-commit writer thread.

    Parameters
    ----------
    db
        The database.
    batch_max
        Most calls per transaction.
    on_committed
        Called (on the writer thread) with the calls of each committed transaction.
    """

    def __init__(
        self,
        db: Database,
        *,
        batch_max: int = 128,
        on_committed: Callable[[Sequence[Call]], None] | None = None,
    ) -> None:
        self.db = db
        self.batch_max = batch_max
        self.on_committed = on_committed
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="xunfang-intake", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout_s)
        self._thread = None

    def submit(self, row: Call, role: str, client: str) -> Future[int]:
        """Queue a call; the future gets its id once it is committed.

        Raises
        ------
        RuntimeError
            If the writer is not running.
        """
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the intake writer is not running")
        pending = PendingCall(row, role, client)
        self._queue.put(pending)
        return pending.future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._write([p for p in batch if isinstance(p, PendingCall)])
            if stop:
                return

    def _write(self, batch: list[PendingCall]) -> None:
        try:
            self._commit(batch)
        except Exception as exc:
            if len(batch) == 1:
                log.error("call intake failed: %s", type(exc).__name__)
                batch[0].future.set_exception(exc)
                return
            for p in batch:  # isolate the failing call
                self._write([p])
            return
        for p in batch:
            p.future.set_result(p.row.id)
        if self.on_committed is not None:
            try:
                self.on_committed([p.row for p in batch])
            except Exception:  # the calls are committed; a feed problem must not undo that
                log.exception("publishing committed calls failed")

    def _commit(self, batch: list[PendingCall]) -> None:
        for p in batch:  # a retried row must be inserted afresh
            p.row.id = None  # type: ignore[assignment]
        with self.db.write() as session:
            repo.add_calls(session, [p.row for p in batch])
            repo.audit_many(
                session,
                [
                    {
                        "username": p.row.created_by,
                        "role": p.role,
                        "action": "call.create",
                        "resource": "call",
                        "resource_id": str(p.row.id),
                        "detail": {"call_type": p.row.call_type, "priority": p.row.priority},
                        "client": p.client,
                        "at": p.row.received_at,
                    }
                    for p in batch
                ],
            )
        self.batches += 1
        self.written += len(batch)
