"""orderkit._fast: builders and copiers that skip validation."""

import attrs

from orderkit._fast import builder, copier
from orderkit.dedupe import IdempotencyKey


KEY = IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001")


class TestCachedHash:
    """A class with `cache_hash=True` starts its cached hash empty, as attrs does."""

    def test_a_built_instance_hashes_as_a_constructed_one(self) -> None:
        built = builder(IdempotencyKey)(*attrs.astuple(KEY))
        assert hash(KEY) == hash(built)
        assert {KEY} == {built}

    def test_a_copy_does_not_keep_the_original_hash(self) -> None:
        hash(KEY)
        copied = copier(IdempotencyKey)(KEY, event_id="evt-7002")
        assert hash(IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7002")) == (
            hash(copied)
        )
