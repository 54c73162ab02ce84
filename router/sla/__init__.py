"""SLA policies, business-hours calendars and risk-driven escalation."""
