"""Quarterly compliance reports (view-model, templates, PDF): built by the reports issue."""
