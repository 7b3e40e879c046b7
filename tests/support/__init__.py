"""Helpers shared by the test folders: paths, the local mosquitto harness, fixtures."""
