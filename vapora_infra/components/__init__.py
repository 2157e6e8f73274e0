"""Pulumi component resources, one per module."""
