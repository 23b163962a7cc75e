"""Reference channel adapters: real platforms' payloads read into canonical records.

Each adapter implements `orderkit.ports.ChannelPayloads` and passes
`orderkit.testing.contracts.ChannelContract` with the platform's own public
sample payloads.

.. versionadded:: 0.1.0
"""

__all__: list[str] = []
