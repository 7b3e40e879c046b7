"""Getting a sealed summary to the clinic: device keys, the durable SQLite outbox, the MQTT
publisher and the `Delivery` facade the kiosk calls. Nothing here waits on the network
from the caller's thread."""
