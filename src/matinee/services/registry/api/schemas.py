"""Eureka's registration body, validated: JSON as Eureka clients send it, or XML.

Eureka spells a port ``{"$": 8080, "@enabled": "true"}`` in JSON and
``<port enabled="true">8080</port>`` in XML; both arrive here as the JSON shape.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from matinee.platform.discovery import Status
from matinee.platform.errors import BadRequest
from matinee.services.registry.domain import DEFAULT_DATA_CENTER_CLASS, InstanceRecord, Lease

__all__ = ["APP_NAME", "InstanceIn", "parse_registration"]

APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Metadata keys become XML element names in responses, so they must be valid ones.
_METADATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_MAX_METADATA = 64

Text = Annotated[str, Field(max_length=1024)]
Host = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s/<>&\"']+$")]


class _Port(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    value: int = Field(alias="$", ge=0, le=65535)
    enabled: bool = Field(default=True, alias="@enabled")


class _DataCenter(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: Annotated[str, Field(max_length=64)] = "MyOwn"
    class_name: Annotated[str, Field(max_length=256)] = Field(
        default=DEFAULT_DATA_CENTER_CLASS, alias="@class"
    )


class _LeaseIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    renewalIntervalInSecs: float | None = Field(default=None, gt=0, le=3600)
    durationInSecs: float | None = Field(default=None, gt=0, le=86400)


def _port_shape(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {"$": value, "@enabled": True}
    return value


class InstanceIn(BaseModel):
    """One instance as a Eureka client registers it (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    instanceId: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    hostName: Host
    app: Annotated[str, Field(max_length=128)] | None = None
    ipAddr: Host | None = None
    status: Status = Status.UP
    overriddenstatus: Status | None = Field(default=None, alias="overriddenstatus")
    overriddenStatus: Status | None = None
    port: _Port
    securePort: _Port | None = None
    vipAddress: Text = ""
    secureVipAddress: Text = ""
    homePageUrl: Text = ""
    statusPageUrl: Text = ""
    healthCheckUrl: Text = ""
    countryId: int = Field(default=1, ge=0, le=1_000_000)
    dataCenterInfo: _DataCenter | None = None
    leaseInfo: _LeaseIn | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    lastDirtyTimestamp: int | None = Field(default=None, ge=0)

    @field_validator("port", "securePort", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        return _port_shape(value)

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("metadata must be an object")
        # Java clients send an empty map as {"@class": "java.util.Collections$EmptyMap"}.
        value = {k: v for k, v in value.items() if not str(k).startswith("@")}
        if len(value) > _MAX_METADATA:
            raise ValueError(f"at most {_MAX_METADATA} metadata entries")
        for key, item in value.items():
            if not _METADATA_KEY.match(str(key)):
                raise ValueError(f"metadata key {key!r} is not a valid name")
            if item is not None and len(str(item)) > 1024:
                raise ValueError(f"metadata value of {key!r} is longer than 1024")
        return value

    @field_validator("status", "overriddenstatus", "overriddenStatus", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def to_record(self, path_app: str) -> InstanceRecord:
        """Return the domain record, the app name taken from the URL."""
        if self.app and self.app.upper() != path_app.upper():
            raise BadRequest(
                f"the body registers app {self.app!r} under the URL of app {path_app!r}",
                errors=[{"field": "instance.app", "message": "does not match the URL"}],
            )
        secure = self.securePort or _Port.model_validate({"$": 443, "@enabled": False})
        dc = self.dataCenterInfo or _DataCenter()
        overridden = self.overriddenStatus or self.overriddenstatus or Status.UNKNOWN
        lease = self.leaseInfo or _LeaseIn()
        return InstanceRecord(
            app=path_app.upper(),
            instance_id=self.instanceId or self.hostName,
            host_name=self.hostName,
            ip_addr=self.ipAddr or self.hostName,
            port=self.port.value,
            port_enabled=self.port.enabled,
            secure_port=secure.value,
            secure_port_enabled=secure.enabled,
            status=self.status,
            overridden_status=overridden,
            vip_address=self.vipAddress,
            secure_vip_address=self.secureVipAddress,
            home_page_url=self.homePageUrl,
            status_page_url=self.statusPageUrl,
            health_check_url=self.healthCheckUrl,
            country_id=self.countryId,
            data_center_name=dc.name,
            data_center_class=dc.class_name,
            metadata={k: "" if v is None else _text(v) for k, v in self.metadata.items()},
            last_dirty=(self.lastDirtyTimestamp or 0) / 1000.0,
            # Zero means "the registry's default", applied when the lease starts.
            lease=Lease(
                renewal_interval=lease.renewalIntervalInSecs or 0.0,
                duration=lease.durationInSecs or 0.0,
            ),
        )


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Registration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    instance: InstanceIn


def parse_registration(body: bytes, content_type: str, path_app: str) -> InstanceRecord:
    """Parse and validate a registration body; raise ``BadRequest`` with field errors."""
    if not APP_NAME.match(path_app):
        raise BadRequest(f"invalid app name {path_app[:80]!r}")
    if not body.strip():
        raise BadRequest("empty registration body")
    looks_xml = "xml" in content_type or body.lstrip()[:1] == b"<"
    try:
        doc = {"instance": _xml_instance(body)} if looks_xml else _json(body)
        parsed = _Registration.model_validate(doc)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"])}
            for e in exc.errors()
        ]
        first = errors[0]
        raise BadRequest(f"{first['field']}: {first['message']}", errors=errors) from None
    return parsed.instance.to_record(path_app)


def _json(body: bytes) -> Any:
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"registration is not valid JSON: {exc}") from None


def _xml_instance(body: bytes) -> dict[str, Any]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadRequest(f"registration is not valid XML: {exc}") from None
    if root.tag != "instance":
        raise BadRequest(f"XML registration must be an <instance>, not <{root.tag[:40]}>")
    doc: dict[str, Any] = {}
    for child in root:
        text = (child.text or "").strip()
        if child.tag in ("port", "securePort"):
            doc[child.tag] = {"$": text, "@enabled": child.get("enabled", "true")}
        elif child.tag == "dataCenterInfo":
            dc: dict[str, Any] = {"@class": child.get("class", DEFAULT_DATA_CENTER_CLASS)}
            name = child.find("name")
            if name is not None and name.text:
                dc["name"] = name.text.strip()
            doc[child.tag] = dc
        elif child.tag == "metadata":
            doc[child.tag] = {item.tag: (item.text or "").strip() for item in child}
        elif child.tag == "leaseInfo":
            doc[child.tag] = {i.tag: i.text.strip() for i in child if i.text and i.text.strip()}
        else:
            doc[child.tag] = text
    return doc
