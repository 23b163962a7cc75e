"""A reference `Notifier`: milestone messages rendered in Chinese and English.

Providers (SMS gateways, WeChat template messages) only send templates that
were approved in advance; `MILESTONE_TEMPLATES` are those templates for every
customer-visible milestone, and `TemplateNotifier` renders a `Message` with
them and keeps what it sent, once per key. Use it in tests and demos, or
give it a `deliver` callable that hands the rendered text to your gateway.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, final

import attrs

from orderkit.errors import ValidationError
from orderkit.integrations import Message
from orderkit.orders import MILESTONES


__all__ = ["MILESTONE_TEMPLATES", "Sent", "TemplateNotifier"]


def _templates() -> dict[str, str]:
    templates: dict[str, str] = {}
    for stage in MILESTONES.values():
        templates[f"order.{stage.code}.zh"] = (
            f"【订单{stage.zh}】您的订单 $order_id $milestone。"
        )
        templates[f"order.{stage.code}.en"] = (
            f"[Order {stage.en.lower()}] Your order $order_id: $milestone."
        )
    templates["order.shipped.zh"] = (
        "【已发货】您的订单 $order_id 已由 $carrier 发出"
        "，运单号 $tracking_number。"  # noqa: RUF001 - Chinese punctuation
    )
    templates["order.shipped.en"] = (
        "[Shipped] Your order $order_id left with $carrier, tracking $tracking_number."
    )
    return templates


MILESTONE_TEMPLATES: Final[Mapping[str, str]] = MappingProxyType(_templates())
"""Template text by template id (`order.shipped.zh`), `$name` placeholders.

.. versionadded:: 0.1.0
"""


@final
@attrs.frozen(slots=True)
class Sent:
    """A message the notifier sent, and its rendered text.

    .. versionadded:: 0.1.0
    """

    message: Message
    text: str


_INVALID: Final = "has an invalid placeholder (write $$ for a literal $)"


@final
class TemplateNotifier:
    """A `Notifier` that renders templates and sends each message key once.

    Args:
        templates: Template text by id; `MILESTONE_TEMPLATES` by default.
        deliver: Called with each rendered message the first time its key
            is sent; by default nothing is called and `sent` keeps it.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        templates: Mapping[str, str] = MILESTONE_TEMPLATES,
        deliver: Callable[[Sent], None] | None = None,
    ) -> None:
        """Create a notifier over `templates`."""
        self._templates = dict(templates)
        for name, text in self._templates.items():
            raw: object = text  # checked as what it is, not what it claims to be
            if not isinstance(raw, str) or not string.Template(raw).is_valid():
                raise ValidationError(f"templates[{name!r}]", text, _INVALID)
        self._deliver = deliver
        self._lock = threading.Lock()
        self._sent: dict[str, Sent] = {}
        # Keys being delivered right now: sent once delivery returns.
        self._sending: set[str] = set()

    @property
    def sent(self) -> tuple[Sent, ...]:
        """Every message sent, in the order sent."""
        with self._lock:
            return tuple(self._sent.values())

    def render(self, message: Message) -> str:
        """The message's text: its template with its parameters filled in.

        Raises:
            ValidationError: The template is unknown (`template`), or a
                parameter it needs is missing (`params`).
        """
        template = self._templates.get(message.template)
        if template is None:
            raise ValidationError(
                "template", message.template, "is not a known template"
            )
        try:
            return string.Template(template).substitute(dict(message.params))
        except KeyError as missing:
            raise ValidationError(
                "params", dict(message.params), f"lacks {missing.args[0]!r}"
            ) from None
        except ValueError:
            raise ValidationError("template", message.template, _INVALID) from None

    def send(self, message: Message) -> None:
        """Render and send the message, unless its key was sent before.

        A key counts as sent once `deliver` returns: when it raises (a
        gateway's `TransientError`), the error propagates and a retry under
        the same key sends again. While one call delivers a key, another
        call with that key returns at once.

        Raises:
            ValidationError: As `render`; nothing is sent.
        """
        if not isinstance(message, Message):
            raise ValidationError("message", message, "must be a Message")
        key = str(message.key)
        with self._lock:
            if key in self._sent or key in self._sending:
                return
            sent = Sent(message, self.render(message))
            self._sending.add(key)
        try:
            if self._deliver is not None:
                self._deliver(sent)
        except BaseException:
            with self._lock:
                self._sending.discard(key)
            raise
        with self._lock:
            self._sending.discard(key)
            self._sent[key] = sent
