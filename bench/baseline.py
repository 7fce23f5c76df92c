"""The "stock SDK pipeline" baseline: a singer-sdk Target whose BatchSink does nothing.

Default reader (stdlib `json` with Decimal floats), default validation (jsonschema Draft 2020-12),
timestamp parsing, default batch size: everything singer-sdk does per record, and no writing at all.
Run as `python -m bench.baseline --input FILE` (or stdin), like any Singer target.
"""

from __future__ import annotations

from typing import Any, ClassVar

from singer_sdk import BatchSink, Target
from singer_sdk import typing as th


class NoopSink(BatchSink):
    """Buffers records as BatchSink does and throws each batch away."""

    def process_batch(self, context: dict[str, Any]) -> None:
        """Nothing to write: the baseline measures the SDK's own per-record work."""


class NoopTarget(Target):
    """A do-nothing Singer target on singer-sdk defaults."""

    name = "target-noop"
    config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


if __name__ == "__main__":
    NoopTarget.cli()
