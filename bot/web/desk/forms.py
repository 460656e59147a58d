"""Form fields of the desk's admin pages: how each is shown and how its submitted value is read
(never trusted: lengths cut, ids parsed, choices checked again by the core)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, AreaKind, Role, UnitLevel

ROLE_LABELS = {Role.OFFICER: "Cán bộ", Role.UNIT_HEAD: "Trưởng đơn vị", Role.LEADER: "Lãnh đạo",
               Role.ADMIN: "Quản trị", Role.DENUNCIATION_HANDLER: "Xử lý tố cáo"}
LEVEL_LABELS = {UnitLevel.PROVINCE: "Tỉnh", UnitLevel.COMMUNE: "Xã/phường",
                UnitLevel.DEPARTMENT: "Phòng/ban"}
AREA_KIND_LABELS = {AreaKind.THON: "Thôn", AreaKind.XOM: "Xóm", AreaKind.AP: "Ấp",
                    AreaKind.BAN: "Bản", AreaKind.TO_DAN_PHO: "Tổ dân phố",
                    AreaKind.KHU_PHO: "Khu phố"}
MAX_TEXT = 4000


def labelled(labels: Mapping[Any, str]) -> list[tuple[str, str]]:
    return [(str(key), label) for key, label in labels.items()]


CATEGORY_CHOICES = labelled(CATEGORY_LABELS)
KIND_CHOICES = labelled(KIND_LABELS)
ROLE_CHOICES = labelled(ROLE_LABELS)
LEVEL_CHOICES = labelled(LEVEL_LABELS)
AREA_KIND_CHOICES = labelled(AREA_KIND_LABELS)


@dataclass(frozen=True)
class Field:
    """kind: text | email | textarea | select | check | checks (several) | lines (one per
    line). `empty` is the label of the "none/any" option of a select (None: no such option)."""

    name: str
    label: str
    kind: str = "text"
    choices: list[tuple[str, str]] = field(default_factory=list)
    empty: str | None = None
    required: bool = False
    create_only: bool = False
    maxlength: int = 200

    @property
    def is_id(self) -> bool:
        return self.name.endswith("_id")


def read(form: Any, fields: list[Field], creating: bool) -> dict[str, Any]:
    """The submitted values of these fields, as the core functions take them."""
    values: dict[str, Any] = {}
    for spec in fields:
        if spec.create_only and not creating:
            continue
        if spec.kind == "check":
            values[spec.name] = str(form.get(spec.name) or "") in ("1", "on", "true")
        elif spec.kind == "checks":
            allowed = {value for value, _ in spec.choices}
            values[spec.name] = [v for v in form.getall(spec.name, []) if v in allowed]
        elif spec.kind == "lines":
            raw = str(form.get(spec.name) or "")[:MAX_TEXT]
            values[spec.name] = [line.strip() for line in raw.replace(",", "\n").splitlines()
                                 if line.strip()]
        else:
            raw = str(form.get(spec.name) or "")[:spec.maxlength].strip()
            if spec.kind == "select" and spec.is_id:
                values[spec.name] = int(raw) if raw.isdigit() and len(raw) < 12 else None
            elif spec.kind == "select":
                values[spec.name] = raw or None
            else:
                values[spec.name] = raw
    return values


def current(item: Any, spec: Field) -> Any:
    """The value an edit form starts from."""
    if spec.name == "roles":
        return {str(role.role) for role in item.roles}
    value = getattr(item, spec.name, None)
    if spec.kind == "lines":
        return "\n".join(value or [])
    if spec.kind in ("check", "checks"):
        return value
    return "" if value is None else str(value)
