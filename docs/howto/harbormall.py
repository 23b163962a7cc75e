"""Harbor Mall's channel: a FieldMap compiled from the spec kept beside the code."""

from pathlib import Path

from orderkit.adapters.channels.mapping import FieldMap


SAMPLES = Path(__file__).parent / "samples"
SPEC = SAMPLES / "harbormall.toml"
SAMPLE_PAGE = SAMPLES / "harbormall-orders.json"


def load() -> FieldMap:
    """Compile the spec: once per process, at startup, so a bad spec fails early."""
    return FieldMap.from_toml(SPEC.read_text(encoding="utf-8"))
