"""``python -m sim.soar --app-config PATH [--state FILE] [--host 127.0.0.1] [--apikey-permissions FILE |
--grant-all] [--admin-config PATH]``

Starts the emulator, writes the ``[resilient]`` section of PATH (other sections kept) with the app's API key,
prints ``SOAR emulator listening on https://HOST:PORT (stomp PORT)`` and runs until SIGTERM/SIGINT (exit 0).

The app's key holds what ``--apikey-permissions`` lists (as App Host grants an app's
``apikey_permissions.txt``), or everything with ``--grant-all`` (an integration-server key with a broad
role, which can also run ``resilient-circuits customize``); with neither, only App Host's base permissions.
``--admin-config`` writes a second app.config with the administrator's key, to import customizations
with while the app runs with its own key.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from sim.soar import builtins
from sim.soar.server import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.soar", description="IBM SOAR emulator (REST + STOMP)")
    parser.add_argument("--app-config", required=True, help="app.config to write the [resilient] section into")
    parser.add_argument("--state", help="SQLite file keeping the state across restarts (default: memory only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="REST port (default: a free one)")
    parser.add_argument("--stomp-port", type=int, default=0, help="STOMP port (default: a free one)")
    parser.add_argument("--org", default=builtins.DEFAULT_ORG_NAME, help="organization name")
    parser.add_argument("--principals", help='JSON file {"users": [{"email", "fname", "lname"}], '
                                             '"groups": [{"name", "members": [emails]}]}')
    parser.add_argument("--cert-dir", help="where to write the CA/server certificate (default: a temp dir)")
    parser.add_argument("--no-subscriber-timeout", type=float, default=30.0,
                        help="seconds an invocation waits for an app to subscribe before failing")
    parser.add_argument("--function-timeout", type=float, default=600.0,
                        help="seconds an invocation waits for the app's final reply")
    parser.add_argument("--apikey-permissions", help="apikey_permissions.txt granted to the app's API key")
    parser.add_argument("--grant-all", action="store_true", help="give the app's API key every permission")
    parser.add_argument("--admin-config", help="also write an app.config with the administrator's API key")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.grant_all and args.apikey_permissions:
        parser.error("--grant-all and --apikey-permissions exclude each other")

    emu = Emulator(args.state, host=args.host, port=args.port, stomp_port=args.stomp_port, org_name=args.org,
                   principals_file=args.principals, cert_dir=args.cert_dir,
                   no_subscriber_timeout=args.no_subscriber_timeout, function_timeout=args.function_timeout,
                   app_permissions="all" if args.grant_all else args.apikey_permissions)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emu.start()
    try:
        emu.write_app_config(args.app_config)
        if args.admin_config:
            emu.write_app_config(args.admin_config, admin=True)
        print(f"SOAR emulator listening on {emu.base_url} (stomp {emu.stomp_port})", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
