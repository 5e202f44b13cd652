"""Packages = the code packages plus the data folders mapped under edgeq._data (see pyproject.toml)."""
from setuptools import find_packages, setup

DATA = ["cmsis_templates", "firmware", "renode"]

setup(packages=find_packages(include=["edgeq", "edgeq.*", "attacks", "attacks.*"])
      + [f"edgeq._data.{d}" for d in DATA])
