"""Label scenarios on a real ledger: issued ranges, signed payloads, scans, the six verdicts.

Extends the scenario builder (:class:`insutrace.demo.scenario.Scenario`) with a regulator authorised to list and recall, label issuing, signed label payloads and
scans. Loaded by path from the label, API and browser tests: ``load_world()``.
"""

from __future__ import annotations

from typing import Any

from support import refused

from insutrace.demo.scenario import DOC, POLICY, TODAY, Scenario
from insutrace.labels.codec import sign_label
from insutrace.trace.identifiers import build_digital_link
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Receipt

__all__ = [
    "DOC",
    "POLICY",
    "RESOLVER",
    "TODAY",
    "VERDICTS",
    "LabelWorld",
    "refused",
    "scan_fields",
    "tamper",
]

RESOLVER = "id.insutrace.test"
VERDICTS = (
    "genuine",
    "unknown_serial",
    "bad_signature",
    "recalled",
    "not_qualified",
    "blacklisted",
)


def tamper(payload: str) -> str:
    """The payload with one signature character changed (still well-formed base64url)."""
    head, sig = payload.split("&s=")
    flipped = "A" if sig[10] != "A" else "B"
    return f"{head}&s={sig[:10]}{flipped}{sig[11:]}"


class LabelWorld(Scenario):
    """The scenario builder plus a regulator, listings, label ranges, payloads and scans."""

    def authorities(self) -> None:
        """A regulator authorised for the serious-dishonesty list (once)."""
        if "regulator" in self.orgs:
            return
        self.org("regulator", "南京市住房和城乡建设局", "regulator")
        payload = {"authority": self.id("regulator"), "lists": ["ndrc_serious"]}
        self.add("credit.authorize", payload, self.root)

    def listing(self, subject: str) -> None:
        """Publish the organisation ``subject`` (a world key) on the serious list today."""
        self.authorities()
        payload = {
            "subject": self.id(subject),
            "list": "ndrc_serious",
            "policy": POLICY,
            "decision": {"number": f"XY{self.next():04d}", "date": TODAY, "document": DOC},
            "min_date": "2027-11-22",
            "max_date": "2028-11-22",
            "reason": "以次充好，伪造检测报告",
        }
        self.add("credit.list", payload, self["regulator"])

    def recall(self, batch: str) -> None:
        """A regulator recalls the batch for fraud."""
        self.authorities()
        decision = {"number": f"ZH{self.next():04d}", "document": DOC}
        self.add("batch.recall", {"batch": batch, "reason": "fraud", "decision": decision},
                 self["regulator"])  # fmt: skip

    def issue(
        self, batch: str, first: str = "000001", count: int = 10, maker: str = "maker",
        **over: Any,
    ) -> Receipt:  # fmt: skip
        payload = {
            "batch": batch,
            "first": first,
            "count": count,
            "resolver": RESOLVER,
            "key": self[maker].key_id,
            **over,
        }
        return self.append("label.issue", payload, self[maker])

    def label(
        self, batch: str, serial: str, maker: str = "maker", signer: Signer | None = None
    ) -> str:
        """The signed QR payload of one label of ``batch``."""
        gtin, lot = batch.split(".", 1)
        uri = build_digital_link(RESOLVER, gtin, lot=lot, serial=serial)
        key = signer or self[maker]
        return sign_label(uri, key.key_id, key.private_key)

    def scan(self, project: str, payload: str, verdict: str, who: str = "supervisor") -> Receipt:
        return self.append("label.scan", {"project": project, **scan_fields(payload),
                                       "verdict": verdict}, self[who])  # fmt: skip

    def six_cases(self) -> dict[str, str]:
        """One label payload per verdict, on batches built for it (see the module doc)."""
        qualified = self.qualified_batch(self.product())
        self.issue(qualified, count=24)
        recalled = self.qualified_batch(self.product())
        self.issue(recalled)
        unqualified = self.batch(self.product())
        self.issue(unqualified)
        if "maker2" not in self.orgs:
            self.org("maker2", "浙江测试节能科技有限公司", "manufacturer")
        listed = self.qualified_batch(self.product(maker="maker2"), maker="maker2")
        self.issue(listed, maker="maker2")
        self.recall(recalled)
        self.listing("maker2")
        genuine = self.label(qualified, "000001")
        return {
            "genuine": genuine,
            "unknown_serial": self.label(qualified, "009999"),
            "bad_signature": tamper(self.label(qualified, "000002")),
            "recalled": self.label(recalled, "000001"),
            "not_qualified": self.label(unqualified, "000001"),
            "blacklisted": self.label(listed, "000001", maker="maker2"),
        }


def scan_fields(payload: str) -> dict[str, str]:
    """gtin, lot, serial, key and sig of a label payload (as ``label.scan`` takes them)."""
    from insutrace.labels.codec import parse_label_uri, split_label

    uri, key, _ = split_label(payload)
    link = parse_label_uri(uri)
    return {
        "gtin": link.gtin,
        "lot": link.lot,
        "serial": link.serial,
        "key": key,
        "sig": payload.split("&s=", 1)[1],
    }
