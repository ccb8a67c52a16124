"""The one thing setup.cfg cannot say: the top-level conf/ ships inside the wheel as nasframe/conf."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["nasframe", "nasframe.*"]), "nasframe.conf"],
    package_dir={"nasframe.conf": "conf"},
    package_data={"nasframe.conf": ["*.yaml", "*/*.yaml", "*/*/*.yaml"]},
)
