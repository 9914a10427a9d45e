"""Fixtures shared across test packages (each fixture module documents its own)."""

import pytest

from tests.devnet_fixture import devnet, shared_devnet, stop_shared_devnet_after  # noqa: F401 - a real `geoshard devnet`


@pytest.hookimpl(trylast=True)  # after the test's own fixtures were torn down: they may still use it
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    stop_shared_devnet_after(item, nextitem)
