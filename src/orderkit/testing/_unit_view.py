"""`UnitStoreView`: one of a unit of work's stores, callable outside a unit.

The pytest plugin's store fixtures are views of `orderkit_uow`'s stores, so
that the desk, `orderkit_ledger`, `orderkit_stock` and the store fixtures
all see one world.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, final

from orderkit.errors import StoreError
from orderkit.ports import UnitOfWork


T = TypeVar("T")


@final
class UnitStoreView:
    """One store of a unit of work, usable with or without a unit open.

    The stores of a unit of work belong to its open unit: called outside
    one, they raise `StoreError`. A view calls the store `name` of `uow`
    (`"ledger"`, `"outbox"`, ...): inside a unit of `uow` open in this
    thread, as part of that unit (committed or rolled back with it);
    otherwise in a unit of its own, committed when the call returns and
    rolled back when it raises, so a failed call leaves the stores as they
    were. With another thread's unit open, the call waits its turn.

    The view passes for the store: `isinstance(view, MemoryOutbox)` holds
    for a view of a `MemoryUnitOfWork`'s outbox, and it has the store's
    public methods.

    Args:
        uow: The unit of work whose store it is.
        name: The store's property on `uow`.

    Raises:
        AttributeError: `uow` has no store `name`.
    """

    __slots__ = ("_cls", "_name", "_uow")

    def __init__(self, uow: UnitOfWork, name: str) -> None:
        """View the store `name` of `uow`."""
        self._uow = uow
        self._name = name
        self._cls: type = self._run(type)

    # Why a property: `isinstance` consults `__class__`, so code that checks
    # for the store's class (the plugin's own tests, a host's) accepts it.
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """The store's class."""
        return self._cls

    def __getattr__(self, attr: str) -> Any:  # noqa: ANN401 - any store method
        """The store's public method `attr`, each call run in a unit.

        Raises:
            AttributeError: The store has no public method `attr`.
        """
        if attr.startswith("_") or not callable(getattr(self._cls, attr, None)):
            raise AttributeError(attr)

        def call(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - as the store's
            return self._run(lambda store: getattr(store, attr)(*args, **kwargs))

        call.__name__ = attr
        call.__doc__ = getattr(self._cls, attr).__doc__
        return call

    def __dir__(self) -> list[str]:
        """The store's public names."""
        return sorted(n for n in dir(self._cls) if not n.startswith("_"))

    def __repr__(self) -> str:
        """Name the store and its unit of work."""
        return f"UnitStoreView({self._uow!r}, {self._name!r})"

    def _run(self, call: Callable[[Any], T]) -> T:
        try:
            # Answers only in a unit open in this thread: join it.
            store = getattr(self._uow, self._name)
        except StoreError:
            pass
        else:
            return call(store)
        with self._uow as uow:
            result = call(getattr(uow, self._name))
            uow.commit()
        return result
