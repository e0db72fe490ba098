"""haihai-tui mock-server: the local HaiHai Mail mock server in the foreground."""

from __future__ import annotations

import os
import sys


def cmd_mock_server(args) -> int:
    from haihai_tui.mock.config import MockConfig, load_mock_config
    from haihai_tui.mock.server import serve

    if args.config:
        config = load_mock_config(args.config)
    else:
        token = os.environ.get("HAIHAI_MOCK_TOKEN")
        if not token:
            print("set HAIHAI_MOCK_TOKEN to the token the mock should accept, or pass --config FILE", file=sys.stderr)
            return 2
        config = MockConfig.demo(token)
    serve(config, args.host, args.port)
    return 0
