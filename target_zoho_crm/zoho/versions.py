"""Zoho CRM API versions and what differs between them for a loader, stated once.

Sources (reference §2.9, §7.1, §8 and its December 2026 corrections; the emulator's versions table):
- COQL rows per call: 200 in v2-v3, 2,000 from v4; rows reachable by LIMIT/OFFSET: 10,000 through v6,
  100,000 from v7; `in` / `not in`: up to 50 values through v6, 100 from v7
  (https://www.zoho.com/crm/developer/docs/api/v7/COQL-Limitations.html, .../v8/COQL-Limitations.html);
  credits by LIMIT band from v4 (v2-v3: 1 a query; https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html).
- Metadata: `lookup.module` in field metadata is the module's name in v2 and v2.1, `{"api_name", "id"}`
  from v3 (`model.FieldMeta.from_zoho` reads both); the modules list flags a module `visible` through v4,
  `status` from v5 (v5 change log).
- Bulk Write (https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/upload-file.html, create-job.html):
  the file goes to the data centre's upload host (zoho/regions.py; Zoho's SDKs use content.zohoapis.*)
  at `/crm/{v}/upload`, the job to the API domain at `/crm/bulk/{v}/write`, in every version.
- Inventory line items: v2 names them `Product_Details` with lower-case row keys; from v2.1 each module
  has its own subform (`Quoted_Items`, `Ordered_Items`, `Purchase_Items`, `Invoiced_Items`) with
  field-style row keys (Zoho's v2.1 SDK `record/field.py`; v7 insert-records sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from target_zoho_crm.errors import ConfigError

DEFAULT_API_VERSION = "v4"

# Row keys of an inventory line item, by the loader's own names.
LINE_ITEM_KEYS_V2: Mapping[str, str] = MappingProxyType(
    {
        "product": "product",
        "quantity": "quantity",
        "list_price": "list_price",
        "discount": "Discount",
        "description": "product_description",
        "price_book": "book",
        "line_tax": "line_tax",
    }
)
LINE_ITEM_KEYS_V21: Mapping[str, str] = MappingProxyType(
    {
        "product": "Product_Name",
        "quantity": "Quantity",
        "list_price": "List_Price",
        "discount": "Discount",
        "description": "Description",
        "price_book": "Price_Book_Name",
        "line_tax": "Line_Tax",
    }
)
V2_LINE_ITEMS_FIELD = "Product_Details"
LINE_ITEMS_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "Quotes": "Quoted_Items",
        "Sales_Orders": "Ordered_Items",
        "Purchase_Orders": "Purchase_Items",
        "Invoices": "Invoiced_Items",
    }
)


@dataclass(frozen=True)
class ApiVersion:
    """One API version: its path segment and the limits and shapes a loader depends on."""

    name: str  # the path segment: /crm/{name}/...
    coql_rows_per_call: int  # the largest COQL LIMIT
    coql_rows_reachable: int  # LIMIT + OFFSET may not go past this
    coql_in_values: int  # values in one `in (...)`
    coql_credit_bands: bool  # COQL charged 1/2/3 credits by LIMIT (else 1 a query)
    lookup_module_as_object: bool  # field metadata `lookup.module`: {"api_name", "id"} (else a name)
    module_flag: str  # the modules list's visibility key: "visible" or "status"
    per_module_line_items: bool  # Quoted_Items ... (else v2's Product_Details)

    @property
    def api_base(self) -> str:
        return f"/crm/{self.name}"

    @property
    def bulk_base(self) -> str:
        """Bulk Write jobs, on the API domain: {bulk_base}/write, {bulk_base}/write/{job_id}."""
        return f"/crm/bulk/{self.name}"

    @property
    def upload_base(self) -> str:
        """Bulk Write files, on the upload host: {upload_base}/upload."""
        return f"/crm/{self.name}"

    def line_items_field(self, module: str) -> str | None:
        """The inventory line-items field of `module` in this version (None: the module has none)."""
        if module not in LINE_ITEMS_FIELDS:
            return None
        return LINE_ITEMS_FIELDS[module] if self.per_module_line_items else V2_LINE_ITEMS_FIELD

    @property
    def line_item_keys(self) -> Mapping[str, str]:
        return LINE_ITEM_KEYS_V21 if self.per_module_line_items else LINE_ITEM_KEYS_V2


def _version(name: str, number: float) -> ApiVersion:
    return ApiVersion(
        name=name,
        coql_rows_per_call=200 if number < 4 else 2000,
        coql_rows_reachable=10_000 if number < 7 else 100_000,
        coql_in_values=50 if number < 7 else 100,
        coql_credit_bands=number >= 4,
        lookup_module_as_object=number >= 3,
        module_flag="visible" if number < 5 else "status",
        per_module_line_items=number > 2,
    )


API_VERSIONS: Mapping[str, ApiVersion] = MappingProxyType(
    {
        name: _version(name, number)
        for name, number in (
            ("v2", 2.0),
            ("v2.1", 2.1),
            ("v3", 3.0),
            ("v4", 4.0),
            ("v5", 5.0),
            ("v6", 6.0),
            ("v7", 7.0),
            ("v8", 8.0),
        )
    }
)
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(API_VERSIONS)


def api_version(name: object) -> ApiVersion:
    """The version named `name` ("v8", "V8" or "8"), or a ConfigError naming the supported ones."""
    text = str(name).strip().lower()
    if text and not text.startswith("v"):
        text = "v" + text
    found = API_VERSIONS.get(text)
    if found is None:
        raise ConfigError(
            f"`api_version` {name!r} is not a Zoho CRM API version this target supports: use one of "
            f"{', '.join(SUPPORTED_VERSIONS)} (default {DEFAULT_API_VERSION})."
        )
    return found
