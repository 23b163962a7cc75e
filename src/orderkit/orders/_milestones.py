"""Customer-visible milestones, labelled in Chinese and English."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, final

import attrs

from orderkit.orders._status import OrderStatus


@final
@attrs.frozen(slots=True)
class Milestone:
    """A step of the order that a buyer is shown, with its labels.

    Attributes:
        code: A stable identifier (`"preparing"`), for templates and analytics.
        zh: The Chinese label (`"备货中"`).
        en: The English label (`"Preparing"`).

    .. versionadded:: 0.1.0
    """

    code: str
    zh: str
    en: str

    def label(self, language: Literal["zh", "en"]) -> str:
        """Return the label in `"zh"` or `"en"`."""
        return self.zh if language == "zh" else self.en


MILESTONES: Final[Mapping[OrderStatus, Milestone]] = MappingProxyType(
    {
        OrderStatus.PENDING_PAYMENT: Milestone("submitted", "已提交", "Submitted"),
        OrderStatus.PAID: Milestone("paid", "已支付", "Paid"),
        OrderStatus.PICKING: Milestone("preparing", "备货中", "Preparing"),
        OrderStatus.PARTIALLY_SHIPPED: Milestone(
            "partially_shipped", "部分发货", "Partially shipped"
        ),
        OrderStatus.SHIPPED: Milestone("shipped", "已发货", "Shipped"),
        OrderStatus.IN_TRANSIT: Milestone("in_transit", "运输中", "In transit"),
        OrderStatus.DELIVERED: Milestone("delivered", "已签收", "Delivered"),
        OrderStatus.COMPLETED: Milestone("completed", "已完成", "Completed"),
        OrderStatus.CANCELLED: Milestone("cancelled", "已取消", "Cancelled"),
        OrderStatus.CLOSED: Milestone("closed", "已关闭", "Closed"),
    }
)
"""The milestone a buyer sees for each status.

.. versionadded:: 0.1.0
"""


def milestone(status: OrderStatus | str) -> Milestone:
    """Return the customer-visible milestone of a status.

    Raises:
        UnknownStatus: `status` is not a canonical status string.

    .. versionadded:: 0.1.0
    """
    return MILESTONES[OrderStatus(status)]
