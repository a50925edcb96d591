"""Child process for the crash test: writes intents forever, printing each acknowledged id."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from daemon.ledger import Ledger


async def main(path: Path) -> None:
    ledger = await Ledger.open(path, commit_delay_s=0.005)
    i = 0
    while True:
        batch = [f"coid-{i}-{k}" for k in range(1 + i % 3)]
        for coid in batch:  # background rows interleaved with durable ones
            ledger.append("metric_samples", [{"name": coid, "value": 1.0}])
        await ledger.write("order_intents", [
            {"client_order_id": coid, "ticker": "T", "side": "yes", "action": "buy", "price": 5_000,
             "count": 100, "time_in_force": "immediate_or_cancel", "post_only": False,
             "reduce_only": False, "strategy": "crash", "decision_ts_ns": i}
            for coid in batch
        ])
        sys.stdout.write("".join(f"{coid}\n" for coid in batch))
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
