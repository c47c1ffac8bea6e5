"""The run summary's table and event for each outcome."""

from __future__ import annotations

from syncd.core.report import InstanceReport, RunReport
from syncd.summary import render_table, summary_event


def test_an_interrupted_instance_is_shown_as_interrupted_not_failed() -> None:
    report = RunReport([
        InstanceReport("lab-a"),
        InstanceReport("lab-b", outcome="interrupted", error="interrupted by shutdown", error_kind="interrupted"),
        InstanceReport("lab-c", outcome="failed", error="hub down", error_kind="hub_unavailable"),
    ])
    table = render_table(report)
    status = {line.split()[0]: line.split()[-1] for line in table.splitlines()[2:] if line[:1] != " "}
    assert (status["lab-a"], status["lab-b"], status["lab-c"]) == ("ok", "interrupted", "FAILED")
    assert "lab-b: interrupted by shutdown" in table and "lab-b: FAILED" not in table
    assert "lab-c: FAILED (hub_unavailable): hub down" in table
    outcomes = [i["outcome"] for i in summary_event(report)["instances"]]
    assert outcomes == ["ok", "interrupted", "failed"] and not summary_event(report)["ok"]
