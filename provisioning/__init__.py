"""Clinic provisioning role: CA, device enrollment, broker config and ACLs, signing keys."""
