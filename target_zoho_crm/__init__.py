"""target-zoho-crm: a Singer target that loads records into Zoho CRM, with a bundled Zoho emulator."""

__all__: list[str] = []
