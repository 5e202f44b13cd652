"""Packages: edgeq's code, the audit (attacks/, installed as edgeq.attacks so that it cannot collide with another
top-level `attacks`), and the data folders mapped under edgeq._data (see pyproject.toml)."""
from setuptools import find_packages, setup

DATA = ["cmsis_templates", "firmware", "renode"]

setup(packages=find_packages(include=["edgeq", "edgeq.*"])
      + ["edgeq.attacks"] + [f"edgeq.attacks.{p}" for p in find_packages("attacks")]
      + [f"edgeq._data.{d}" for d in DATA])
