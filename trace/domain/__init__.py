"""The whole-chain domain: entry types, their rules and projections.

``HANDLERS`` maps every entry type the ledger admits to its handler. Every domain
payload carries ``"schema": 1``; quantities are decimal strings in the batch's unit
(projection rows keep integer milli-units), dates ``YYYY-MM-DD`` judged in China
Standard Time against the entry's own time, documents by SHA-256 hex. A refused
entry raises ``RuleViolation(rule, reason, clause)``, ``Forbidden`` or
``MalformedInput`` and leaves nothing behind. Every domain handler runs the
:data:`~.admission.ADMISSION_CHECKS` first (the credit-blacklist extension point).

=========================  ==============  =====================================================
entry type                 signed by       payload (besides ``schema``)
=========================  ==============  =====================================================
actor.register             root            id (USCC), public_key, name, name_en?, roles[],
                                           address, domain?, lab {cma, issued_on?} (labs)
org.update                 root            id, roles?, address?, lab? (CMA renewal)
key.rotate / key.revoke    actor or root   core (:mod:`insutrace.trace.actors`)
product.register           manufacturer    gtin, name, name_en?, type, core? (composite),
                                           polymer, thermosetting, standard, domain?
batch.register             manufacturer    product (gtin), lot, quantity, unit (m2|m3|board|
                                           panel), production_date, declared_class (GB 8624
                                           label), conductivity (W/(m·K)), density (kg/m³)
report.issue               testing lab     number, batch, sample, issued_on, valid_until,
                                           document, standards[], results[{property,
                                           standard, class|value, unit?, conforms?, sample?,
                                           lab?}]
custody.ship               holder          number, to, to_project?, from_project?, date,
                                           document?, lines[{batch, unit, quantity}]
custody.receive            recipient       shipment (<shipper>|<number>), lines[], date,
                                           close?, discrepancy? {kind: short|damaged|lost,
                                           note}
custody.return             recipient of    number, shipment (the original), from_project?,
                           the original    date, reason, lines[]
custody.destroy            holder          project?, date, reason, document?, lines[]
project.register           owner           id, name, contractor, supervisor, location
                                           {province, city, address}, design {use, height_m,
                                           cavity?, contains_crowded_place?, public_open?,
                                           elderly_*?, composite_noncombustible_layer_mm?,
                                           roof_slab_fire_resistance_h?}, policy {id,
                                           version}, permit {number, authority} |
                                           below_quota: true, building?, sections[{id, name,
                                           facade, position, area_m2, design_class}]
project.file               regulator       project, number, date (属地备案 of a small project)
site.briefing              contractor      project, kind (technical_briefing |
                                           risk_notification), date, attendees[], topics[],
                                           document
site.inspect               supervisor      project, batch, date, label_class, accepted
site.sample                supervisor or   project, sample, batch, quantity, date, lab,
                           owner (witness) sampler {name, org}, witness (name)
site.retest_result         the sample's    project, sample, number, date, document, results[]
                           lab
site.install               contractor      project, section, batch, quantity, area_m2, date
project.accept             supervisor,     project, date, document, measures[] (supervisor:
                           owner           ancillary measures attested)
building.register_survey   owner,          id, name, owner, address, use, height_m, survey
                           regulator,      {date, surveyor, document}, facades[{facade,
                           investigator    position, insulation_type, class, manufacturer?,
                                           contractor?, installed_year?, area_m2}]
building.inspect           building owner  building, date, inspector, facades[], document,
                                           defects[{id, kind, facade, location, severity,
                                           description?}]
rectification.order        regulator       building, number, date, deadline, defects[],
                                           measures
rectification.complete     building owner  building, number, date, document, project?
batch.recall               manufacturer,   batch, reason (failed_retest | fraud), sample
                           regulator,      (<project>|<sample>) | decision {number,
                           investigator    document}, note?
entry.correct              the record's    corrects (seq), target {kind, id}, reason,
                           author          set {field: value} (fields: corrections.CORRECTABLE)
credit.authorize           root            authority (USCC), lists[] (issue 6, :mod:`.credit`)
credit.list                authorised      subject, subject_name?, list, policy {id, version},
                           authority       decision {number, date, document}, min_date,
                                           max_date, reason
credit.repair_apply        listed subject  listing (<authority>|<number>), date, commitment,
                                           evidence
credit.repair_decide       listing         listing, granted, number, date, document, note?
                           authority
permit.decide              regulator       project, stage, outcome, rules[], number,
                                           document?, policy? (:mod:`.gate`)
incident.record            investigator,   id, building, date, kind, facades[]?,
                           regulator       description, document?
                                           (:mod:`insutrace.trace.backtrace`)
label.issue                manufacturer    batch, first (serial: CSET 82, <= 20, ends in
                                           digits), count, resolver (domain), key (the key
                                           id that signs the labels) (issue 5, :mod:`.labels`)
label.scan                 supervisor or   project, gtin, lot, serial, key? + sig? (the
                           contractor of   label's k and s), verdict (as the scanner saw
                           the project     it; must be the ledger's), by? (who scanned)
=========================  ==============  =====================================================

Rule ids by module: :mod:`.orgs` (org.*), :mod:`.products` (product.*), :mod:`.batches`
(batch.*), :mod:`.reports` (report.*), :mod:`.custody` (custody.*, recall.blocked),
:mod:`.projects` (project.*, and the combustion policy's own rule ids such as
``wall.row5.residential_27_to_100m``), :mod:`.site` (inspect.*, sample.*, retest.*,
install.*, accept.*, retest.frequency), :mod:`.buildings` (building.*, defect.*,
rectification.*), :mod:`.recall` (recall.*), :mod:`.corrections` (correct.*),
:mod:`.labels` (label.*, scan.verdict; clone alerts as ``alert`` rows).
Read-side questions (holders, walls, mass balance, recall notice, wall
identification) are in :mod:`.queries`; EPCIS 2.0 export in :mod:`insutrace.trace.epcis`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..actors import CORE_HANDLERS, Handler
from .admission import ADMISSION_CHECKS, admitted
from .batches import register_batch
from .buildings import (
    complete_rectification,
    inspect_building,
    order_rectification,
    register_survey,
)
from .corrections import correct_entry
from .custody import destroy, receive, return_goods, ship
from .orgs import register_org, update_org
from .products import register_product
from .projects import file_project, register_project
from .recall import recall_batch
from .reports import issue_report
from .site import accept_project, brief, inspect_arrival, install, record_retest, take_sample

__all__ = ["ADMISSION_CHECKS", "DOMAIN_HANDLERS", "HANDLERS"]

DOMAIN_HANDLERS: Mapping[str, Handler] = {
    "actor.register": register_org,
    "org.update": update_org,
    "product.register": register_product,
    "batch.register": register_batch,
    "report.issue": issue_report,
    "custody.ship": ship,
    "custody.receive": receive,
    "custody.return": return_goods,
    "custody.destroy": destroy,
    "project.register": register_project,
    "project.file": file_project,
    "site.briefing": brief,
    "site.inspect": inspect_arrival,
    "site.sample": take_sample,
    "site.retest_result": record_retest,
    "site.install": install,
    "project.accept": accept_project,
    "building.register_survey": register_survey,
    "building.inspect": inspect_building,
    "rectification.order": order_rectification,
    "rectification.complete": complete_rectification,
    "batch.recall": recall_batch,
    "entry.correct": correct_entry,
}

HANDLERS: Mapping[str, Handler] = {
    **CORE_HANDLERS,
    **{kind: admitted(handler) for kind, handler in DOMAIN_HANDLERS.items()},
}

# Issue 6: credit listings and joint punishment (.credit), permit decisions
# (.gate), incidents (insutrace.trace.backtrace). gate and backtrace import
# modules of this package, so they are bound late (a lambda) and import in either order.
from .. import backtrace as _backtrace  # noqa: E402
from . import gate as _gate  # noqa: E402
from .credit import CREDIT_HANDLERS, check_listings, disqualify_reports  # noqa: E402

if check_listings not in ADMISSION_CHECKS:
    ADMISSION_CHECKS.append(check_listings)
HANDLERS = {
    **HANDLERS,
    "report.issue": disqualify_reports(HANDLERS["report.issue"]),
    **{kind: admitted(handler) for kind, handler in CREDIT_HANDLERS.items()},
    "permit.decide": admitted(lambda ctx: _gate.decide_permit(ctx)),
    "incident.record": admitted(lambda ctx: _backtrace.record_incident(ctx)),
}

# Issue 5: label serial ranges and scans (.labels imports .credit, so it is bound here too).
from .labels import issue_labels, scan_label  # noqa: E402

HANDLERS = {
    **HANDLERS,
    "label.issue": admitted(issue_labels),
    "label.scan": admitted(scan_label),
}
