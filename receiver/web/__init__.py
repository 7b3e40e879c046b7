"""The clinic dashboard (`emoface receiver serve`): the alert queue, sessions, a session's
report, devices, receiver health and the audit log, for logged-in staff over HTTPS."""
