"""A warehouse (WMS) in memory: pick tasks in, confirmations out."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import Counter
from typing import Any, final

import pendulum

from orderkit._time import to_utc
from orderkit._validate import optional_text, text
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import IdempotencyConflict, ValidationError
from orderkit.integrations import FulfilmentStage, PickTask, WarehouseConfirmation
from orderkit.ports import Clock


_FIELDS = ("task_id", "order_id", "stage", "at")


@final
class FakeWarehouse:
    """A warehouse in memory that implements `orderkit.ports.Warehouse`.

    - `create_pick_task` takes each task once: sending the same task again
      returns the same warehouse id (idempotent by `task.task_id`); another
      task under a task id it holds raises `IdempotencyConflict`.
    - `confirm(task_id, stage)` is the warehouse doing its work: it returns
      the confirmation payload (a dict, as decoded JSON) that the warehouse
      would send; `parse_confirmation` reads such payloads. A payload sent
      twice gives the same key, so re-sent confirmations dedupe.

    Attributes:
        effects: Per task id, how many tasks the warehouse created: a test
            asserts every count is at most 1.
        calls: Per task id, how many calls were made (repeats included).

    Args:
        clock: Stamps the confirmations.
        name: The warehouse's name, the channel of the confirmations' keys.

    .. versionadded:: 0.1.0
    """

    def __init__(self, clock: Clock, *, name: str = "fakewms") -> None:
        """Create a warehouse with no tasks."""
        self._clock = clock
        self._name = name
        self._lock = threading.Lock()
        self._tasks: dict[str, tuple[str, PickTask]] = {}
        self.effects: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @property
    def tasks(self) -> dict[str, PickTask]:
        """Every task taken, by task id."""
        with self._lock:
            return {task_id: task for task_id, (_, task) in self._tasks.items()}

    def create_pick_task(self, task: PickTask) -> str:
        """Take the task once per task id; return the warehouse's id for it.

        Raises:
            IdempotencyConflict: Another task was sent under this task id.
            ValidationError: `task` is not a `PickTask`.
        """
        if not isinstance(task, PickTask):
            raise ValidationError("task", task, "must be a PickTask")
        with self._lock:
            self.calls[task.task_id] += 1
            taken = self._tasks.get(task.task_id)
            if taken is not None:
                if taken[1] != task:
                    raise IdempotencyConflict(f"task:{task.task_id}")
                return taken[0]
            wms_id = f"WMS-{len(self._tasks) + 1:06d}"
            self._tasks[task.task_id] = (wms_id, task)
            self.effects[task.task_id] += 1
            return wms_id

    def confirm(
        self,
        task_id: str,
        stage: FulfilmentStage | str,
        *,
        carrier: str | None = None,
        tracking_number: str | None = None,
    ) -> dict[str, Any]:
        """Do a stage of a task now; return the payload the warehouse sends.

        Raises:
            ValidationError: No task has that id, or `stage` is not a
                `FulfilmentStage`.
        """
        with self._lock:
            taken = self._tasks.get(task_id)
        if taken is None:
            raise ValidationError("task_id", task_id, "no such task")
        try:
            done = FulfilmentStage(stage)
        except ValueError:
            raise ValidationError("stage", stage, "must be a FulfilmentStage") from None
        payload: dict[str, Any] = {
            "task_id": task_id,
            "order_id": taken[1].order_id,
            "stage": str(done),
            "at": self._clock.now().isoformat(),
        }
        if carrier is not None:
            payload["carrier"] = carrier
        if tracking_number is not None:
            payload["tracking_number"] = tracking_number
        return payload

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:  # noqa: ANN401 - decoded JSON, as the port takes it
        """Read a payload `confirm` made into a `WarehouseConfirmation`.

        Raises:
            ValidationError: The payload is not such a dict (naming the
                path, `payload.stage`), its `at` is not an ISO 8601 date and
                time of day with a UTC offset, as `confirm` writes it
                (`payload.at`), its `task_id` or `order_id` is not
                non-empty printable text (`payload.task_id`,
                `payload.order_id`), or its `carrier` or `tracking_number`
                is not text, or is missing from a `shipped` one
                (`payload.carrier`, `payload.tracking_number`).
        """
        if not isinstance(payload, dict):
            raise ValidationError("payload", payload, "must be a JSON object")
        for field in _FIELDS:
            if not isinstance(payload.get(field), str):
                raise ValidationError(
                    f"payload.{field}", payload.get(field), "must be a string"
                )
        try:
            stage = FulfilmentStage(payload["stage"])
        except ValueError:
            raise ValidationError(
                "payload.stage", payload["stage"], "must be a FulfilmentStage"
            ) from None
        # Checked here, before the key and the confirmation check them again,
        # so that the error names the payload's path, not the model's field.
        for field in ("task_id", "order_id"):
            text(f"payload.{field}")(None, None, payload[field])
        shipped = stage is FulfilmentStage.SHIPPED
        for field in ("carrier", "tracking_number"):
            check = text if shipped else optional_text
            check(f"payload.{field}")(None, None, payload.get(field))
        return WarehouseConfirmation(
            task_id=payload["task_id"],
            order_id=payload["order_id"],
            stage=stage,
            at=_instant(payload["at"]),
            key=IdempotencyKey(self._name, "confirmation", payload["task_id"], stage),
            carrier=payload.get("carrier"),
            tracking_number=payload.get("tracking_number"),
        )


def _instant(text: str) -> pendulum.DateTime:
    """`payload.at` in UTC: ISO 8601 text with a date, a time and an offset."""
    parsed = None
    with contextlib.suppress(ValueError):
        parsed = dt.datetime.fromisoformat(text)
    # A bare time, a bare date or a time without an offset is no instant:
    # reading one would date it or place it in a zone of our own choosing.
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(
            "payload.at", text, "must be an ISO 8601 date and time with an offset"
        )
    return to_utc(parsed, "payload.at")
