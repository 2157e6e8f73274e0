"""Validated models of every input file; imports no Pulumi module."""
