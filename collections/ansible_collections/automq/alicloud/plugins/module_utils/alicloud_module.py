"""Ansible glue shared by the automq.alicloud modules.

:class:`AlicloudModule` wraps AnsibleModule with the common options (region, endpoint,
protocol, credentials), builds SDK clients once, runs every API call through the retry
loop, turns failures into one clear sentence (``fail_json`` with ``error_code`` and
``request_id``), and returns results with ``diff`` when Ansible asks for it. The decisions
live in ``automq_helpers.alicloud`` (pure, unit tested); this file only does the I/O.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .automq_helpers.alicloud.clients import (
    credential_client,
    missing_sdks,
    openapi_client,
    oss_client,
    sdk_models,
)
from .automq_helpers.alicloud.errors import (
    ApiError,
    Operation,
    explain,
)
from .automq_helpers.alicloud.retry import (
    BUSY_CODES,
    CallFailed,
    policy_from_env,
    retry_call,
)
from .automq_helpers.alicloud.settings import (
    SettingsError,
    connection_settings,
)
from .automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    TagError,
    desired_tags,
    tag_changes,
)

COMMON_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "region": {"type": "str"},
    "endpoint": {"type": "str"},
    "protocol": {"type": "str", "choices": ["http", "https"]},
    "access_key_id": {"type": "str", "no_log": False},
    "access_key_secret": {"type": "str", "no_log": True},
    "security_token": {"type": "str", "no_log": True},
}
CLUSTER_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "cluster": {"type": "str", "required": True},
    "tags": {"type": "dict", "default": {}},
    "purge_tags": {"type": "bool", "default": False},
}
PAGE_SIZE = 50
UNTAG_ACTIONS = {"ecs": "UntagResources", "vpc": "UnTagResources", "pvtz": "UntagResources"}


def method_name(api: str) -> str:
    """The Tea SDK method of an action: ``CreateVSwitch`` -> ``create_vswitch``."""
    text = api.replace("VSwitch", "Vswitch")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).lower()


class AlicloudModule:
    """One module run: options, clients, retried calls, clear failures, diff-aware exit."""

    def __init__(
        self,
        argument_spec: Mapping[str, dict[str, Any]],
        service: str,
        *,
        other_services: Sequence[str] = (),
        cluster_tags: bool = False,
        **kwargs: Any,
    ) -> None:
        spec = dict(COMMON_ARGUMENT_SPEC)
        if cluster_tags:
            spec.update(CLUSTER_ARGUMENT_SPEC)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.service = service
        services = [service, *other_services]
        missing = missing_sdks(services)
        if missing:
            self.module.fail_json(msg=missing_required_lib(" and ".join(missing)))
        try:
            self.settings = connection_settings(
                self.module.params, os.environ, service, other_services
            )
            self.retry_policy = policy_from_env(os.environ)
        except (SettingsError, ValueError) as exc:
            self.module.fail_json(msg=str(exc))
        self._credential: Any = None
        self._clients: dict[str, Any] = {}
        self.retries: list[str] = []
        self.tags: dict[str, str] = {}
        if cluster_tags:
            try:
                self.tags = desired_tags(self.params["cluster"], self.params["tags"])
            except TagError as exc:
                self.module.fail_json(msg=str(exc))

    # --- basics ---------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.module.params
        return params

    @property
    def check_mode(self) -> bool:
        return bool(self.module.check_mode)

    @property
    def region(self) -> str | None:
        return self.settings.region

    @property
    def cluster(self) -> str:
        return str(self.params["cluster"])

    def fail(self, msg: str, **result: Any) -> NoReturn:
        self.module.fail_json(msg=msg, **result)
        raise AssertionError("fail_json returned")  # it exits the module

    def warn(self, msg: str) -> None:
        self.module.warn(msg)

    def cluster_tag_filter(self, model: Callable[..., Any]) -> list[Any]:
        """The ``Tag.N`` filter finding this cluster's resources."""
        return [model(key=CLUSTER_TAG, value=self.cluster)]

    def tag_models(self, model: Callable[..., Any], tags: Mapping[str, str]) -> list[Any]:
        return [model(key=k, value=v) for k, v in sorted(tags.items())]

    # --- clients and calls ----------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._credential is None:
                self._credential = credential_client(self.settings)
            if service == "oss":
                self._clients[service] = oss_client(self.settings, self._credential)
            else:
                self._clients[service] = openapi_client(service, self.settings, self._credential)
        return self._clients[service]

    def models(self, service: str) -> Any:
        return sdk_models(service)

    def _note_retry(self, attempt: int, wait: float, error: ApiError) -> None:
        self.retries.append(f"attempt {attempt} got {error.code}, retried after {wait:.1f}s")

    def fail_api(self, error: ApiError, operation: Operation, **result: Any) -> None:
        endpoint = self.settings.endpoint(operation.service).url
        self.module.fail_json(
            msg=explain(error, operation, region=self.region, endpoint=endpoint),
            error_code=error.code or None,
            request_id=error.request_id,
            api=operation.api,
            **result,
        )

    def call(
        self,
        service: str,
        api: str,
        what: str,
        fn: Callable[[], Any],
        *,
        extra_codes: Iterable[str] = (),
        ignore_codes: Iterable[str] = (),
        ignored: list[str] | None = None,
    ) -> Any:
        """``fn()`` with retries; a code in ``ignore_codes`` returns ``None`` (and is appended
        to ``ignored``), other errors fail the module."""
        try:
            return retry_call(
                fn, policy=self.retry_policy, extra_codes=extra_codes, on_retry=self._note_retry
            )
        except CallFailed as failed:
            if failed.error.code and failed.error.code in set(ignore_codes):
                if ignored is not None:
                    ignored.append(failed.error.code)
                return None
            self.fail_api(failed.error, Operation(service, api, what))
        return None  # pragma: no cover - fail_json exits

    def rpc(
        self,
        service: str,
        api: str,
        what: str,
        request: Any = None,
        *,
        extra_codes: Iterable[str] = (),
        ignore_codes: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        """Call a Tea action and return its body as the API's JSON map."""
        method = getattr(self.client(service), method_name(api))
        response = self.call(
            service,
            api,
            what,
            (lambda: method(request)) if request is not None else method,
            extra_codes=extra_codes,
            ignore_codes=ignore_codes,
        )
        if response is None:
            return None
        body = response.body
        return body.to_map() if body is not None else {}

    def paged(
        self,
        service: str,
        api: str,
        what: str,
        make_request: Callable[[int, int], Any],
        path: Sequence[str],
        *,
        total_key: str = "TotalCount",
    ) -> list[dict[str, Any]]:
        """All items of a PageNumber/PageSize listing; ``path`` leads to the item list."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.rpc(service, api, what, make_request(page, PAGE_SIZE)) or {}
            found: Any = body
            for key in path:
                found = found.get(key) if isinstance(found, Mapping) else None
            batch = list(found or [])
            items.extend(batch)
            total = body.get(total_key)
            if not batch:
                break
            if isinstance(total, int | str) and str(total).isdigit():
                if len(items) >= int(total):
                    break
            elif len(batch) < PAGE_SIZE:
                break
            page += 1
        return items

    def client_token(self) -> str:
        """An idempotency token for one create call (kept across its retries)."""
        return str(uuid.uuid4())

    def wait_for(
        self,
        what: str,
        fetch: Callable[[], Any],
        ready: Callable[[Any], bool],
        timeout: float,
        interval: float = 2.0,
    ) -> Any:
        """Poll ``fetch()`` until ``ready(value)``; fail with ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = fetch()
            if ready(value):
                return value
            if time.monotonic() >= deadline:
                self.fail(
                    f"Timed out after {timeout:g}s waiting for {what}: raise wait_timeout, or "
                    "check the resource in the console"
                )
            time.sleep(interval)

    def update_tags(
        self,
        service: str,
        resource_type: str,
        resource_id: str,
        actual: Mapping[str, str],
        what: str,
        *,
        optional: bool = False,
    ) -> tuple[bool, dict[str, str]]:
        """Bring the resource's tags to the desired ones; returns (changed, tags after).

        ``optional``: the resource is identified by its name alone, so an endpoint without
        the tag API gets a warning instead of a failure."""
        changes = tag_changes(self.tags, actual, purge=bool(self.params.get("purge_tags")))
        after = {k: v for k, v in actual.items() if k not in changes.to_remove}
        after.update(changes.to_set)
        if not changes.changed or self.check_mode:
            return changes.changed, dict(sorted(after.items()))
        models = self.models(service)
        # PrivateZone is global: its tag calls take no region, and overwrite explicitly.
        scope: dict[str, Any] = (
            {"over_write": True} if service == "pvtz" else {"region_id": self.region}
        )
        if changes.to_set:
            request = models.TagResourcesRequest(
                resource_type=resource_type,
                resource_id=[resource_id],
                tag=self.tag_models(models.TagResourcesRequestTag, changes.to_set),
                **scope,
            )
            unsupported = ("InvalidAction.NotFound",) if optional else ()
            tagged = self.rpc(
                service,
                "TagResources",
                f"tag {what}",
                request,
                extra_codes=BUSY_CODES,
                ignore_codes=unsupported,
            )
            if tagged is None:
                self.warn(f"{what} was not tagged: the endpoint offers no TagResources API")
                return False, dict(actual)
        if changes.to_remove:
            untag = UNTAG_ACTIONS[service]
            scope.pop("over_write", None)
            request = getattr(models, f"{untag}Request")(
                resource_type=resource_type,
                resource_id=[resource_id],
                tag_key=list(changes.to_remove),
                **scope,
            )
            self.rpc(service, untag, f"untag {what}", request, extra_codes=BUSY_CODES)
        return True, dict(sorted(after.items()))

    # --- results --------------------------------------------------------------------------

    def exit(
        self,
        changed: bool,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        **result: Any,
    ) -> NoReturn:
        if self.module._diff and (before is not None or after is not None):
            result["diff"] = {"before": dict(before or {}), "after": dict(after or {})}
        if self.retries:
            result["retries"] = self.retries
        self.module.exit_json(changed=changed, **result)
        raise AssertionError("exit_json returned")  # it exits the module
