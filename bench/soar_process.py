"""``python -m bench.soar_process ARGS``: the SOAR emulator (``python -m sim.soar ARGS``) with TCP_NODELAY.

The stock emulator's HTTP handler writes the response headers and the body in two TLS writes with
Nagle's algorithm on; against the client's delayed ACK every response then stalls about 40 ms (measured
here: 47 ms per GET, 58 ms per POST, against 6 ms and 10 ms with TCP_NODELAY). A real SOAR server does
not stall like that, and the stall would swamp everything the benchmark measures, so this launcher sets
``disable_nagle_algorithm`` on the emulator's handler class (as ``sim.tap``'s server already does) and
then runs the unchanged emulator. Nothing else differs. ``python -m bench --emulator-as-is`` uses the
stock ``python -m sim.soar`` instead.
"""

from __future__ import annotations

import sys

from sim.soar import rest
from sim.soar.__main__ import main

if __name__ == "__main__":
    rest._Handler.disable_nagle_algorithm = True
    sys.exit(main())
