"""Automation of the emulated org: the rules a change fires and what they start.

``rules`` (:class:`Automation`: automatic and manual rules, running workflows and automations),
``instances`` (workflow instance documents), ``effects`` (a script's changes written all or none),
``functions`` (invocations through message destinations), ``host`` (the engine's view of the org).
It reads and writes the document parts; they never call back into it.
"""

from sim.soar.automation.rules import MAX_RULE_DEPTH, Automation

__all__ = ["MAX_RULE_DEPTH", "Automation"]
