"""target-zoho-crm: a Singer target that loads records into Zoho CRM (its Zoho CRM emulator is the
separate `zoho_crm_emulator` package, installed by the `emulator` extra)."""

__all__: list[str] = []
