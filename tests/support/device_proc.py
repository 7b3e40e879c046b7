"""A device publisher process for the kill -9 test (run as a script, not collected).

usage: python -m tests.support.device_proc CONFIG DATA_DIR TAG COUNT [--drain]
Builds Delivery from the enrolled bundle, starts the publisher, submits COUNT summaries
(printing each message id once its outbox insert has committed), then keeps publishing;
with --drain it exits 0 once the outbox is empty.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from pathlib import Path

from device.config import load_config
from device.delivery.service import Delivery
from tests.support.delivery_helpers import make_summary


def main() -> int:
    config, data_dir, tag, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    drain = "--drain" in sys.argv
    cfg = load_config(config)
    cfg = dataclasses.replace(cfg, device=dataclasses.replace(cfg.device, data_dir=data_dir))
    d = Delivery.from_config(cfg, ack_timeout=2.0)
    d.start()
    print("ready", flush=True)
    for i in range(count):
        mid = d.submit(make_summary(i, tag))
        print(mid, flush=True)
        time.sleep(random.uniform(0, 0.03))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if drain and d.status()["outbox_depth"] == 0:
            print("drained", flush=True)
            d.close()
            return 0
        time.sleep(0.05)
    return 1


if __name__ == "__main__":
    sys.exit(main())
