"""Deploys the VAPORA multi-agent platform to Kubernetes with Pulumi."""
