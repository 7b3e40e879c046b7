"""The wire contract between a kiosk and the clinic: the summary schema, the sealed
envelope, and the topic names and device-id rule. The receiver imports this package, so a
change here is a change to the protocol."""
