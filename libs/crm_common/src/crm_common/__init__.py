"""Plumbing shared by every CRM service. Domain code never lives here."""
