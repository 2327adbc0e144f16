"""Action certificate_expiry: report the earliest certificate expiry, warn about close ones.

Runs on the Ansible machine; see plugins/modules/certificate_expiry.py for the documentation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers import (
    certificate_expiry,
)

ARGUMENT_SPEC = {
    # Entries may carry more keys (role automq_pki's published facts as they are).
    "certificates": {"type": "list", "elements": "dict", "required": True},
    "warn_days": {"type": "int", "default": 30},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            certificates = [
                certificate_expiry.CertificateExpiry(
                    item["name"], certificate_expiry.parse_asn1_time(item["not_after"])
                )
                for item in args["certificates"]
            ]
        except ValueError as error:
            result.update(failed=True, msg=str(error))
            return result
        report = certificate_expiry.expiry_report(
            certificates, datetime.now(UTC), args["warn_days"]
        )
        result.update(
            changed=False,
            msg=report.summary,
            earliest=(
                {
                    "name": report.earliest.name,
                    "not_after": report.earliest.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "days_left": round(report.earliest_days or 0.0, 1),
                }
                if report.earliest
                else None
            ),
            expiring=list(report.warnings),
        )
        if report.warnings:
            result["warnings"] = list(report.warnings)
        return result
