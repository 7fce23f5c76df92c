"""The emulator's metadata catalog: modules, fields, layouts, org and users per API version.

`load_catalog(version)` builds the built-in org schema (see `standard.py`) for one API version;
`modules_json` / `fields_dir` swap in a user's exported `/settings/modules` and `/settings/fields`
responses so a mapping can be tested offline against a real org's schema. Returned dicts are shared:
treat them as read-only (the HTTP layer serialises them; validators only read them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .build import VERSIONS, F, M, field_meta, module_meta, stable_id, version_index
from .org import org as _org
from .org import users as _users
from .standard import INVENTORY_LINE_ITEMS, MODULES, line_item_row_fields

__all__ = ["VERSIONS", "Catalog", "CatalogError", "load_catalog"]

LINE_ITEM_NAMES = ("Product_Details", *(v[0] for v in INVENTORY_LINE_ITEMS.values()))
_DUP_FIELDS = {m.api_name: list(m.dup_fields) for m in MODULES}


class CatalogError(ValueError):
    """An unknown API version or an unreadable user override file."""


def _system_fields(spec: M, version: str) -> list[F]:
    """Owner and the read-only audit fields every record module has (`id` is listed from v4)."""
    out = [F("id", "bigint", label="Record Id", read_only=True, length=19, since="v4")]
    if spec.generated_type != "subform":
        out.append(F("Owner", "ownerlookup", label=f"{spec.singular} Owner"))
    out += [
        F("Created_By", "ownerlookup", read_only=True),
        F("Modified_By", "ownerlookup", read_only=True),
        F("Created_Time", "datetime", read_only=True),
        F("Modified_Time", "datetime", read_only=True, extra={"searchable": False}),
    ]
    return [f for f in out if f.in_version(version)]


def _subform_specs(version: str) -> list[M]:
    """v2.1+: the inventory line-item subform modules (`generated_type: subform`, §6.1)."""
    if version_index(version) < version_index("v2.1"):
        return []
    return [
        M(
            sub,
            module_name,
            singular,
            plural,
            line_item_row_fields(parent, False),
            generated_type="subform",
            parent_module=parent,
        )
        for parent, (sub, module_name, singular, plural) in INVENTORY_LINE_ITEMS.items()
    ]


def _layout(
    module: dict[str, Any], fields: list[dict[str, Any]], required: set[str], version: str
) -> dict[str, Any]:
    """One "Standard" layout; `required` marks system- and layout-mandatory fields (§6.3).

    `status` is an integer (0: active) up to v2.1, as Zoho's v2.1 SDK models it (`Layout.status:
    Integer`; its parser drops the whole answer otherwise), and `"active"` from v3.
    """
    api = str(module["api_name"])
    label = module.get("singular_label") or api  # user-exported modules may omit labels
    main = [f for f in fields if f.get("data_type") not in ("subform", "lineitem")]
    items = [f for f in fields if f.get("data_type") in ("subform", "lineitem")]
    sections = [
        {
            "api_name": f"{label} Information",
            "display_label": f"{label} Information",
            "name": f"{label} Information",
            "sequence_number": 1,
            "column_count": 2,
            "isSubformSection": False,
            "tab_traversal": 1,
            "fields": [{**f, "required": f.get("api_name") in required} for f in main],
        }
    ]
    if items:
        sections.append(
            {
                "api_name": "Product Details",
                "display_label": "Product Details",
                "name": "Product Details",
                "sequence_number": 2,
                "column_count": 1,
                "isSubformSection": True,
                "tab_traversal": 2,
                "fields": [{**f, "required": f.get("api_name") in required} for f in items],
            }
        )
    return {
        "id": stable_id(api, "layout", "Standard"),
        "name": "Standard",
        "api_name": "Standard",
        "visible": True,
        "status": 0 if version_index(version) <= version_index("v2.1") else "active",
        "source": "crm",
        "profiles": module.get("profiles", []),
        "sections": sections,
    }


class Catalog:
    """Modules, fields, layouts, org and users of one API version (the emulator's view of the org)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.org: dict[str, Any] = _org()
        self.users: list[dict[str, Any]] = _users()
        self._modules: dict[str, dict[str, Any]] = {}
        self._fields: dict[str, list[dict[str, Any]]] = {}
        self._field_index: dict[str, dict[str, dict[str, Any]]] = {}
        self._layout_required: dict[str, set[str]] = {}
        self._line_item_rows: dict[str, list[dict[str, Any]]] = {}
        self._dup_fields: dict[str, list[str]] = {}

    # --- building ---------------------------------------------------------------------------------------
    def _set_fields(self, api_name: str, fields: list[dict[str, Any]]) -> None:
        self._fields[api_name] = fields
        self._field_index[api_name] = {str(f["api_name"]): f for f in fields if "api_name" in f}

    def _add_builtin(self, spec: M, sequence: int) -> None:
        if not spec.in_version(self.version):
            return
        self._modules[spec.api_name] = module_meta(spec, self.version, sequence)
        specs = [*_system_fields(spec, self.version), *(f for f in spec.fields if f.in_version(self.version))]
        self._set_fields(spec.api_name, [field_meta(spec.api_name, f, self.version) for f in specs])
        self._layout_required[spec.api_name] = {f.api_name for f in specs if f.mandatory or f.layout_required}
        self._dup_fields[spec.api_name] = list(spec.dup_fields)
        if spec.api_name in INVENTORY_LINE_ITEMS and self.version == "v2":
            rows = line_item_row_fields(spec.api_name, True)
            self._line_item_rows[spec.api_name] = [
                field_meta("Product_Details", f, self.version) for f in rows
            ]

    @classmethod
    def builtin(cls, version: str) -> Catalog:
        cat = cls(version)
        for i, spec in enumerate([*MODULES, *_subform_specs(version)]):
            cat._add_builtin(spec, i + 1)
        return cat

    def apply_overrides(self, modules_json: str | Path | None, fields_dir: str | Path | None) -> None:
        """Replace the module list and/or per-module fields with a user's exported JSON responses."""
        if modules_json is not None:
            data = _read_json(Path(modules_json))
            items = data.get("modules") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise CatalogError(f"{modules_json}: expected a `modules` list")
            modules = {str(m["api_name"]): m for m in items if isinstance(m, dict) and m.get("api_name")}
            self._modules = modules
        if fields_dir is not None:
            folder = Path(fields_dir)
            if not folder.is_dir():
                raise CatalogError(f"{fields_dir}: not a folder")
            for path in sorted(folder.glob("*.json")):
                data = _read_json(path)
                items = data.get("fields") if isinstance(data, dict) else data
                if not isinstance(items, list):
                    raise CatalogError(f"{path}: expected a `fields` list")
                api = path.stem
                self._set_fields(api, [f for f in items if isinstance(f, dict)])
                self._layout_required[api] = {
                    str(f["api_name"]) for f in items if isinstance(f, dict) and f.get("system_mandatory")
                }
                self._line_item_rows.pop(api, None)
                if api not in self._modules:
                    self._modules[api] = {
                        "api_name": api,
                        "module_name": api,
                        "singular_label": api,
                        "plural_label": api,
                        "id": stable_id("module", api),
                        "api_supported": True,
                        "creatable": True,
                        "editable": True,
                        "deletable": True,
                        "viewable": True,
                        "generated_type": "custom",
                    }
        for api, mod in self._modules.items():
            if api not in self._dup_fields:
                custom = mod.get("generated_type") == "custom"
                self._dup_fields[api] = _DUP_FIELDS.get(api, ["Name"] if custom else [])

    # --- the read API -----------------------------------------------------------------------------------
    def modules(self) -> list[dict[str, Any]]:
        """Zoho `modules` elements, in sequence order."""
        return list(self._modules.values())

    def module(self, api_name: str) -> dict[str, Any] | None:
        """The module with this exact (case-sensitive) API name, as Zoho matches URL paths."""
        return self._modules.get(api_name)

    def fields(self, api_name: str) -> list[dict[str, Any]]:
        if api_name not in self._modules:
            return []
        return self._fields.get(api_name, [])

    def field(self, api_name: str, field: str) -> dict[str, Any] | None:
        if api_name not in self._modules:
            return None
        return self._field_index.get(api_name, {}).get(field)

    def layouts(self, api_name: str) -> list[dict[str, Any]]:
        module = self.module(api_name)
        if module is None:
            return []
        required = self._layout_required.get(api_name, set())
        return [_layout(module, self.fields(api_name), required, self.version)]

    def system_duplicate_fields(self, api_name: str) -> list[str]:
        """Upsert's system duplicate-check fields (reference §3); custom modules use `Name`."""
        if api_name not in self._modules:
            return []
        return list(self._dup_fields.get(api_name, []))

    def line_items_field(self, api_name: str) -> str | None:
        """`Product_Details` (v2) or the module's line-item subform (v2.1+), if the module has one."""
        for name in LINE_ITEM_NAMES:
            if self.field(api_name, name) is not None:
                return name
        for f in self.fields(api_name):
            if f.get("data_type") == "lineitem":
                return str(f["api_name"])
        return None

    def line_item_fields(self, api_name: str) -> list[dict[str, Any]]:
        """Field metas of one line-item row: v2 lower-case keys, or the subform module's fields."""
        name = self.line_items_field(api_name)
        if name is None:
            return []
        if api_name in self._line_item_rows:
            return self._line_item_rows[api_name]
        meta = self.field(api_name, name) or {}
        sub = meta.get("subform") or meta.get("associated_module") or {}
        sub_module = sub.get("module") if isinstance(sub, dict) else None
        if isinstance(sub_module, dict):
            sub_module = sub_module.get("api_name")
        return self.fields(str(sub_module or name))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from exc


def load_catalog(
    version: str, *, modules_json: str | Path | None = None, fields_dir: str | Path | None = None
) -> Catalog:
    """The catalog Zoho would serve for `version`, optionally with a user's exported schema."""
    if version not in VERSIONS:
        raise CatalogError(f"unsupported API version {version!r}; expected one of {', '.join(VERSIONS)}")
    cat = Catalog.builtin(version)
    cat.apply_overrides(modules_json, fields_dir)
    return cat
