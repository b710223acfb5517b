"""Render registry state in Eureka's wire format, as JSON or XML.

Prometheus's ``eureka_sd_configs`` and py-eureka-client read XML and send no
``Accept`` header, so XML is the default; ``Accept: application/json`` gets JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from matinee.services.registry.domain import InstanceRecord

__all__ = [
    "JSON",
    "REPLICATION_HEADER",
    "XML",
    "is_replicated",
    "negotiate",
    "render_app",
    "render_apps",
    "render_instance",
    "replica_registration",
]

JSON = "application/json"
XML = "application/xml"
# Marks a call one registry replicates to its peers: applied, never passed on again.
REPLICATION_HEADER = "x-netflix-discovery-replication"


def is_replicated(header_value: str | None) -> bool:
    """Tell whether a request's replication header marks it as a peer's."""
    return (header_value or "").strip().lower() == "true"


def negotiate(accept: str | None) -> str:
    """Pick JSON when the client asks for it, else XML (Eureka's default)."""
    return JSON if accept and "json" in accept.lower() else XML


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def instance_doc(r: InstanceRecord) -> dict[str, Any]:
    """Return one instance as Eureka's JSON object."""
    lease = r.lease
    return {
        "instanceId": r.instance_id,
        "hostName": r.host_name,
        "app": r.app,
        "ipAddr": r.ip_addr,
        "status": r.effective_status.value,
        "overriddenStatus": r.overridden_status.value,
        "overriddenstatus": r.overridden_status.value,
        "port": {"$": r.port, "@enabled": _bool(r.port_enabled)},
        "securePort": {"$": r.secure_port, "@enabled": _bool(r.secure_port_enabled)},
        "countryId": r.country_id,
        "dataCenterInfo": {"@class": r.data_center_class, "name": r.data_center_name},
        "leaseInfo": {
            "renewalIntervalInSecs": int(lease.renewal_interval),
            "durationInSecs": int(lease.duration),
            "registrationTimestamp": _ms(lease.registered_at),
            "lastRenewalTimestamp": _ms(lease.renewed_at),
            "evictionTimestamp": _ms(lease.evicted_at),
            "serviceUpTimestamp": _ms(lease.up_since),
        },
        "metadata": dict(r.metadata),
        "homePageUrl": r.home_page_url,
        "statusPageUrl": r.status_page_url,
        "healthCheckUrl": r.health_check_url,
        "vipAddress": r.vip_address,
        "secureVipAddress": r.secure_vip_address,
        "isCoordinatingDiscoveryServer": _bool(r.pinned),
        "lastUpdatedTimestamp": str(_ms(r.last_updated)),
        "lastDirtyTimestamp": str(_ms(r.last_dirty)),
        "actionType": r.action.value,
    }


def replica_registration(r: InstanceRecord) -> bytes:
    """Return the registration body that replicates ``r`` to a peer (Eureka JSON).

    Unlike a read, it carries the status the instance reported (the override travels
    apart, in ``overriddenstatus``) and the lease's exact figures.
    """
    doc = instance_doc(r)
    doc["status"] = r.status.value
    doc["leaseInfo"] = {
        "renewalIntervalInSecs": r.lease.renewal_interval or None,
        "durationInSecs": r.lease.duration or None,
    }
    doc["lastDirtyTimestamp"] = _ms(r.last_dirty)
    doc.pop("actionType", None)
    doc.pop("isCoordinatingDiscoveryServer", None)
    return orjson.dumps({"instance": doc})


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _xml_instance(r: InstanceRecord) -> str:
    doc = instance_doc(r)
    parts = ["<instance>"]
    for key, value in doc.items():
        if key == "overriddenStatus":
            continue  # XML readers know only the lower-case spelling
        if key in ("port", "securePort"):
            parts.append(f"<{key} enabled={quoteattr(value['@enabled'])}>{value['$']}</{key}>")
        elif key == "dataCenterInfo":
            parts.append(
                f"<dataCenterInfo class={quoteattr(value['@class'])}>"
                f"<name>{escape(value['name'])}</name></dataCenterInfo>"
            )
        elif key in ("leaseInfo", "metadata"):
            parts.append(f"<{key}>{_xml_fields(value)}</{key}>")
        else:
            parts.append(f"<{key}>{escape(str(value))}</{key}>")
    parts.append("</instance>")
    return "".join(parts)


def _xml_fields(fields: Mapping[str, Any]) -> str:
    # Keys were checked at registration to be valid element names.
    return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items())


def render_apps(
    apps: Mapping[str, Iterable[InstanceRecord]], version: int, hashcode: str, media: str
) -> bytes:
    """Render the ``applications`` document (full registry or delta)."""
    if media == JSON:
        body = {
            "applications": {
                "versions__delta": str(version),
                "apps__hashcode": hashcode,
                "application": [
                    {"name": name, "instance": [instance_doc(r) for r in records]}
                    for name, records in apps.items()
                ],
            }
        }
        return orjson.dumps(body)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><applications>',
        f"<versions__delta>{version}</versions__delta>",
        f"<apps__hashcode>{escape(hashcode)}</apps__hashcode>",
    ]
    for name, records in apps.items():
        parts.append(f"<application><name>{escape(name)}</name>")
        parts.extend(_xml_instance(r) for r in records)
        parts.append("</application>")
    parts.append("</applications>")
    return "".join(parts).encode()


def render_app(name: str, records: Iterable[InstanceRecord], media: str) -> bytes:
    """Render one ``application`` document."""
    if media == JSON:
        doc = {"application": {"name": name, "instance": [instance_doc(r) for r in records]}}
        return orjson.dumps(doc)
    inner = "".join(_xml_instance(r) for r in records)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><application><name>{escape(name)}</name>'
        f"{inner}</application>"
    ).encode()


def render_instance(record: InstanceRecord, media: str) -> bytes:
    """Render one ``instance`` document."""
    if media == JSON:
        return orjson.dumps({"instance": instance_doc(record)})
    return ('<?xml version="1.0" encoding="UTF-8"?>' + _xml_instance(record)).encode()
