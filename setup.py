#!/usr/bin/env python
"""Packaging for the Proofpoint TAP functions app for IBM SOAR.

resilient-sdk reads this file without running it: it evaluates the call of setup below, leaving out every line
that calls a function, so that call holds literal values and whatever is computed is a call on one line (and no
text above the call may name it with parentheses).
"""

import glob
import ntpath

from setuptools import find_namespace_packages, setup
from setuptools.dist import Distribution


def get_module_name(module_path):
    """The module name of a component file: entry points are made from the files present."""
    return ntpath.split(module_path)[1].split(".")[0]


def snake_to_camel(word):
    return "".join(x.capitalize() or "_" for x in word.split("_"))


class AppDistribution(Distribution):
    """Declares display_name, which resilient-sdk reads from the setup call as the app's name on App Host;
    setuptools knows no such option and would warn about it."""

    display_name = None


def app_distribution():
    return AppDistribution


def app_packages():
    """The package and its data folders (templates, export.res), which are packages without modules."""
    return find_namespace_packages(include=["fn_pp_tap_functions", "fn_pp_tap_functions.*"], exclude=["*.__pycache__"])


setup(
    name="fn_pp_tap_functions",
    display_name="Proofpoint TAP Functions",
    version="1.0.0",
    license="MIT",
    author="fn_pp_tap_functions maintainers",
    author_email="soar-tap-app@users.noreply.github.com",
    url="https://github.com/fn-pp-tap-functions/fn_pp_tap_functions",
    description="Proofpoint TAP threat data as filtered, de-duplicated SOAR incidents that are enriched, "
                "investigated and closed when Proofpoint marks a threat a false positive.",
    long_description="""Proofpoint TAP Functions for IBM SOAR turn Proofpoint Targeted Attack Protection (TAP) \
threat data into well-formed incidents and keep them true. \
<br><br><b>Ingestion</b>: TAP SIEM events become incidents, filtered by event type, threat status, threat type, \
classification, score, recipient and sender; one incident per threat, campaign or message, repeats added to it, \
nothing created twice, nothing lost after an outage; an incident template and owner rules decide what goes in and \
who owns it. A built-in scheduler runs it (or IBM's Scheduler app). \
<br><b>False positives</b>: incidents close with the evidence when Proofpoint marks their threats false positives \
or cleared, from a menu item, a scheduled sweep or the events themselves. \
<br><b>Investigation</b>: enrichment of every new incident, forensics reports with indicators as artifacts, \
decoding of URL Defense links, Very Attacked People and top clickers, threat and campaign look-ups. \
<br>Filters, templates, owners and close policies are workflow inputs the SOC edits in SOAR; every error names \
its cause and what to do.""",
    install_requires=[
        "resilient-circuits~=51.0,>=51.0.9",
        "resilient-lib~=51.0,>=51.0.9",
        "Jinja2~=3.1",
    ],
    extras_require={
        "test": [
            "pytest~=9.0",
            "pytest-resilient-circuits~=51.0,>=51.0.9",
            "resilient-sdk~=51.0,>=51.0.9",
            "ruff~=0.14",
            "mypy~=2.4",
            "types-requests",
            "types-PyYAML",
            "PyYAML~=6.0",
            "cryptography>=42",
            "hypothesis~=6.100",
        ],
    },
    python_requires=">=3.11",
    distclass=app_distribution(),
    packages=app_packages(),
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
