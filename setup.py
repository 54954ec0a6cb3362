#!/usr/bin/env python
"""Packaging for the Proofpoint TAP functions app for IBM SOAR."""

import glob
import ntpath

from setuptools import find_packages, setup


def get_module_name(module_path):
    """The module name of a component file: entry points are made from the files present."""
    return ntpath.split(module_path)[1].split(".")[0]


def snake_to_camel(word):
    return "".join(x.capitalize() or "_" for x in word.split("_"))


setup(
    name="fn_pp_tap_functions",
    display_name="Proofpoint TAP Functions",
    version="1.0.0",
    license="MIT",
    author="fn_pp_tap_functions maintainers",
    author_email="soar-tap-app@users.noreply.github.com",
    url="https://github.com/fn-pp-tap-functions/fn_pp_tap_functions",
    description="Proofpoint TAP threat data as filtered, de-duplicated SOAR incidents that close themselves "
                "when Proofpoint marks a threat a false positive.",
    long_description="""Proofpoint TAP Functions for IBM SOAR: functions, rules and workflows that turn \\
Proofpoint Targeted Attack Protection (TAP) threat data into well-formed incidents and keep them true.\\
<br>- Look up a threat or a campaign by its ID from a menu item on an artifact\\
<br>- Filters, templates and owners live in SOAR workflows, not in the app code\\
<br>- Honest errors: bad credentials, unknown IDs and TAP rate limits are named as such""",
    install_requires=[
        "resilient-circuits~=51.0.9",
        "resilient-lib~=51.0.9",
        "Jinja2~=3.1",
    ],
    extras_require={
        "test": [
            "pytest~=9.0",
            "pytest-resilient-circuits~=51.0.9",
            "resilient-sdk~=51.0.9",
            "ruff~=0.14",
            "mypy~=2.4",
            "types-requests",
            "types-PyYAML",
            "PyYAML~=6.0",
            "cryptography>=42",
            "hypothesis>=6.100",
        ],
    },
    python_requires=">=3.11",
    packages=find_packages(include=["fn_pp_tap_functions", "fn_pp_tap_functions.*"]),
    include_package_data=True,
    platforms="any",
    classifiers=[
        "Programming Language :: Python",
        "Programming Language :: Python :: 3.11",
    ],
    entry_points={
        "resilient.circuits.components": [
            # one entry point per component file, so adding a component needs no edit here
            "{}FunctionComponent = fn_pp_tap_functions.components.{}:FunctionComponent".format(snake_to_camel(get_module_name(filename)), get_module_name(filename)) for filename in glob.glob("./fn_pp_tap_functions/components/[a-zA-Z]*.py")  # noqa: E501, UP032 (one line: resilient-sdk parses it)
        ],
        "resilient.circuits.configsection": ["gen_config = fn_pp_tap_functions.util.config:config_section_data"],
        "resilient.circuits.customize": ["customize = fn_pp_tap_functions.util.customize:customization_data"],
        "resilient.circuits.selftest": ["selftest = fn_pp_tap_functions.util.selftest:selftest_function"],
    },
)
