"""One RPC call as the product handlers see it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .auth import Principal
from .util import ApiError, Params

if TYPE_CHECKING:
    from .server import Emulator


@dataclass
class Call:
    product: str
    action: str
    params: Params
    principal: Principal
    emulator: Emulator

    def region(self) -> str:
        region = self.params.get("RegionId", self.emulator.config.region_id)
        assert region is not None
        if region not in self.emulator.config.regions:
            raise ApiError(
                404,
                "InvalidRegionId.NotFound",
                f"The specified RegionId {region!r} does not exist.",
            )
        return region

    def once(self, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``create`` once per ``ClientToken``: a retry gets the first answer."""
        token = self.params.get("ClientToken")
        if token is None:
            return create()
        key = (self.product, self.action, token)
        tokens = self.emulator.state.client_tokens
        if key not in tokens:
            tokens[key] = create()
        return copy.deepcopy(tokens[key])


Handler = Callable[[Call], dict[str, Any]]


@dataclass
class CallRecord:
    """One answered request, for ``Emulator.calls`` (products ``ecs`` ... ``oss``, ``s3``)."""

    product: str
    action: str
    params: dict[str, str]
    status: int
    code: str
    response: Any


def unlocked(handler: Handler) -> Handler:
    """Mark a handler that takes the state lock itself (slow Docker work outside it)."""
    handler.unlocked = True  # type: ignore[attr-defined]
    return handler
