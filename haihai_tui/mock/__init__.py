"""The local mock HaiHai Mail server (the contract and its test controls: docs/haihai-api.md); never imports Textual."""

from haihai_tui.mock.config import MockAccount, MockConfig, load_mock_config
from haihai_tui.mock.server import MockServerThread, RunningMock, create_app, serve, start

__all__ = [
    "MockAccount",
    "MockConfig",
    "load_mock_config",
    "MockServerThread",
    "RunningMock",
    "create_app",
    "serve",
    "start",
]
