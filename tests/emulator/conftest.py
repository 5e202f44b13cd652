import pytest

from edgeq.build import build_project
from tests.emulator import standin


@pytest.fixture(scope="session")
def standin_elf(tmp_path_factory):
    """standin_elf(target) -> the stand-in model's edgeq.elf for that target, built once per session."""
    built = {}

    def build(target: str):
        if target not in built:
            built[target] = build_project(standin.stage(tmp_path_factory.mktemp(f"standin-{target}"), target)).elf
        return built[target]

    return build
