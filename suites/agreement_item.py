"""The agreement item of one (case, toolchain, target): every engine's observations must agree."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from harness import agreement
from harness.manifest import Manifest
from suites.base import (
    AGREEMENT,
    RERUN_RESULTS,
    CaseFailure,
    SuiteItem,
    bundle_arg,
    display,
    rerun_go,
    rerun_program,
    state,
)
from suites.state import Seen


class AgreementItem(SuiteItem):
    """Runs after every engine's item of one (case, toolchain): their observations must agree."""

    def __init__(self, *, toolchain: str, label: str, manifest: Manifest, case: str,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.toolchain, self.label, self.manifest, self.case = toolchain, label, manifest, case

    def rerun(self) -> str:
        """Every engine's item of this (case, toolchain), then this item: the file with only those
        engines and that toolchain, run from the suite's root."""
        st = state(self.config)
        return (f"{rerun_program(self.config)} {shlex.quote(self.nodeid.split('::')[0])} "
                f"--engine {','.join(st.engines)} "
                f"--go {shlex.quote(rerun_go(st, self.toolchain))}{bundle_arg(st)} "
                f"--results {RERUN_RESULTS}")

    def runtest(self) -> None:
        st = state(self.config)
        m = self.manifest
        seen = st.seen.pop((self.case, self.label), {})  # kept no longer than needed
        rec: dict[str, Any] = {"case": self.case, "engine": AGREEMENT, "engine_version": None,
                               "toolchain": self.label, "toolchain_requested": self.toolchain,
                               "target": m.target, "area": m.area, "title": m.title, "refs": list(m.refs),
                               "path": display(m.path), "engines": sorted(seen),
                               "rerun": self.rerun(), "problems": []}
        verdict, reason, report = self._judge(seen, rec)
        rec.update(verdict=verdict, reason=reason)
        self.hand_over(rec)
        if verdict in ("skip", "xfail"):
            self.quiet = (verdict, reason)
        elif verdict != "pass":
            raise CaseFailure(report)

    def _judge(self, seen: dict[str, Seen], rec: dict[str, Any]) -> tuple[str, str, str]:
        m = self.manifest
        if len(seen) < 2:
            return "skip", (f"agreement needs two engines that ran the case; ran: "
                            f"{', '.join(sorted(seen)) or 'none'}"), ""
        reflect = frozenset(e for e, s in seen.items() if "export_types" in s.capabilities)
        judged_by = next(iter(seen.values())).manifest  # the same for every engine of a release
        d = agreement.compare(judged_by, {e: s.observation for e, s in seen.items()}, reflect)
        if d is None:
            return "pass", "", ""
        rec["disagreement"] = {"field": d.field, "groups": [list(g) for g in d.groups],
                               "values": [v[:4000] for v in d.values]}
        explained = agreement.explained(d.groups, {e: s.divergence for e, s in seen.items()})
        if explained is not None:
            return "xfail", explained, ""
        report = "\n".join([f"DISAGREE {m.id} with {self.label}: {m.title}",
                            f"  manifest: {m.path}", d.render(), f"rerun: {self.rerun()}"])
        return "disagree", d.summary, report

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.case} [agreement, {self.label}]"
