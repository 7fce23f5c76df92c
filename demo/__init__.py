"""`make demo`: a real tap (tap-spreadsheets) → target-zoho-crm → the bundled Zoho CRM emulator."""
