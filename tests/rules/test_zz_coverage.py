"""Every rule is tested with at least one passing and one failing case.

The rule tests evaluate through ``factories.run``, which records each rule's verdicts. This
module is collected last in tests/rules (its name sorts last), so by the time it runs the
record is complete. Run alone, it has nothing to judge and says so.
"""

from __future__ import annotations

import pytest

from posture.rules import RULES
from posture.rules.base import Verdict
from tests.rules.factories import OBSERVED


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_pass_and_fail_cases(rule) -> None:
    if not OBSERVED:
        pytest.skip("run the whole tests/rules directory to judge test coverage of rules")
    seen = OBSERVED.get(rule.id, set())
    assert Verdict.PASS in seen, f"{rule.id} has no passing test case"
    assert Verdict.FAIL in seen, f"{rule.id} has no failing test case"
