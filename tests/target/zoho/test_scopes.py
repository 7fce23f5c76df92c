"""Scope coverage (pure logic), as Zoho's scopes page states it: a granted scope covers a needed one when
its path is a prefix and its operation is ALL, the same, or WRITE for CREATE/UPDATE/DELETE
(https://www.zoho.com/crm/developer/docs/api/v8/scopes.html)."""

from __future__ import annotations

from target_zoho_crm.zoho.scopes import covers, missing_scopes, module_scope, parse_scopes


def test_a_granted_scope_covers_narrower_paths_and_operations() -> None:
    assert covers("ZohoCRM.modules.ALL", "ZohoCRM.modules.leads.CREATE")
    assert covers("ZohoCRM.modules.leads.WRITE", "ZohoCRM.modules.leads.UPDATE")
    assert covers("ZohoCRM.settings.ALL", "ZohoCRM.settings.fields.READ")
    assert not covers("ZohoCRM.modules.leads.READ", "ZohoCRM.modules.leads.CREATE")
    assert not covers("ZohoCRM.modules.contacts.ALL", "ZohoCRM.modules.leads.CREATE")
    assert not covers("ZohoFiles.files.ALL", "ZohoCRM.bulk.CREATE")


def test_missing_scopes_and_module_scope_names() -> None:
    granted = parse_scopes("ZohoCRM.modules.ALL ZohoCRM.settings.ALL")
    assert missing_scopes(granted, ["ZohoCRM.settings.modules.READ", "ZohoCRM.coql.READ"]) == [
        "ZohoCRM.coql.READ"
    ]
    assert module_scope("Sales_Orders", "default", "upsert") == "ZohoCRM.modules.salesorders.CREATE"
    assert module_scope("Vehicles", "custom", "update") == "ZohoCRM.modules.custom.UPDATE"
    assert module_scope("Appointments__s", "default", "insert") == "ZohoCRM.modules.appointments.CREATE"
