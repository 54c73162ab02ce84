"""Scoring: features, LightGBM models for category, priority and SLA risk, explanations."""
