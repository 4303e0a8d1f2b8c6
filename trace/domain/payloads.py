"""Typed payload models: one pydantic model per entry type the API writes.

The models state, as JSON Schema, what the handlers of this package read with
:class:`~.fields.Reader` (the table in the package docstring): every payload carries
``"schema": 1``; quantities and measured values are decimal strings (``"1250.5"``,
never JSON numbers), dates ``YYYY-MM-DD``, documents the SHA-256 of the file in
the content-addressed store, organisations their unified social credit code
(GB 32100-2015, 18 characters), products their GTIN-14. Unknown members are
refused and nothing is coerced (``"1"`` is not 1, 1 is not ``"1"``, ``true`` is
not 1).

A model checks the *form* of a payload. What needs the ledger's state or a rule
table (a USCC's check character, a GTIN's check digit, whether a GB 8624 label
parses, whether a batch exists) stays with the handler, which refuses it with its
rule id and clause.

Each entry type's declaration names its model (``payload=`` in
:class:`~insutrace.trace.entrytype.EntryType`); :func:`validate` checks one payload and raises :class:`PayloadInvalid` with a JSON Pointer (RFC 6901) to each
offending member, relative to the entry (``/payload/lines/0/unit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..errors import MalformedInput

__all__ = [
    "ActorRegister",
    "AlertAcknowledge",
    "AlertAssign",
    "AlertClose",
    "BatchRecall",
    "BatchRegister",
    "BuildingInspect",
    "BuildingRegisterSurvey",
    "CreditAuthorize",
    "CreditList",
    "CreditRepairApply",
    "CreditRepairDecide",
    "CustodyDestroy",
    "CustodyReceive",
    "CustodyReturn",
    "CustodyShip",
    "DesignApprove",
    "DesignChange",
    "EntryCorrect",
    "HazardAssign",
    "HazardClose",
    "HazardRecord",
    "HazardSupervise",
    "IncidentRecord",
    "KeyAdd",
    "KeyRevoke",
    "KeyRotate",
    "LabelIssue",
    "LabelReprint",
    "LabelScan",
    "LabelVoid",
    "MeasureRecord",
    "NormsList",
    "OrgAffiliate",
    "OrgUpdate",
    "PayloadInvalid",
    "PermitDecide",
    "PersonAssign",
    "PersonList",
    "PersonRegister",
    "ProductRegister",
    "ProjectAccept",
    "ProjectFile",
    "ProjectRegister",
    "RectificationComplete",
    "RectificationOrder",
    "ReportIssue",
    "SignagePost",
    "SiteBriefing",
    "SiteInspect",
    "SiteInstall",
    "SiteRetestResult",
    "SiteSample",
    "field_errors",
    "pointer",
    "validate",
]

# -- field types: the forms Reader accepts (fields.py) ----------------------------------------

_CJK = "\u4e00-\u9fff"
_IDENT = rf"^[A-Za-z0-9{_CJK}][A-Za-z0-9{_CJK}〔〕._:#()\-]{{0,79}}$"
_CSET82 = (
    r"!\"%-?A-Z_a-z"  # GS1 General Specifications Figure 7.11-1: %-? spans %&'()*+,-./0-9:;<=>?
)
_USCC = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"  # GB 32100-2015 §4


def _real_date(value: str) -> str:
    date.fromisoformat(value)  # ValueError: not a calendar date (2026-02-30)
    return value


def _positive(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be > 0")
    return value


def _exact_int(value: Any) -> Any:
    """Strict mode still lets ``true`` and ``1.0`` equal a Literal 1; the schema version may not."""
    if type(value) is not int:
        raise ValueError("must be the JSON integer 1")
    return value


def _text(max_len: int) -> StringConstraints:
    """A string with a non-space character, at most ``max_len`` long (Reader.text)."""
    return StringConstraints(min_length=1, max_length=max_len, pattern=r"\S")


Text = Annotated[str, _text(200)]
Text12 = Annotated[str, _text(12)]
Text16 = Annotated[str, _text(16)]
Text18 = Annotated[str, _text(18)]
Text20 = Annotated[str, _text(20)]
Text40 = Annotated[str, _text(40)]
Text60 = Annotated[str, _text(60)]
Text80 = Annotated[str, _text(80)]
Text100 = Annotated[str, _text(100)]
Text120 = Annotated[str, _text(120)]
Text170 = Annotated[str, _text(170)]
Text500 = Annotated[str, _text(500)]
Text1000 = Annotated[str, _text(1000)]


def _decimal(places: int) -> StringConstraints:
    """A decimal as a JSON string with at most ``places`` decimals (Reader.decimal)."""
    return StringConstraints(pattern=rf"^(0|[1-9][0-9]{{0,11}})(\.[0-9]{{1,{places}}})?$")


# Dec<n>: > 0 with at most n decimals; Dec<n>Zero: >= 0.
Dec1 = Annotated[str, _decimal(1), AfterValidator(_positive)]
Dec2 = Annotated[str, _decimal(2), AfterValidator(_positive)]
Dec3 = Annotated[str, _decimal(3), AfterValidator(_positive)]
Dec4 = Annotated[str, _decimal(4), AfterValidator(_positive)]
Dec2Zero = Annotated[str, _decimal(2)]

Day = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(_real_date),
    Field(description="Calendar date YYYY-MM-DD, judged in China Standard Time (UTC+8)."),
]
Ident = Annotated[
    str,
    StringConstraints(pattern=_IDENT),
    Field(description="Identifier: letters, digits, CJK and 〔〕._:#()-, at most 80 characters."),
]
Sha256 = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="SHA-256 (64 lower-case hex digits) of a file in POST /v1/documents."),
]
Uscc = Annotated[
    str,
    StringConstraints(pattern=_USCC),
    Field(description="Unified social credit code (GB 32100-2015), 18 characters."),
]
Gtin14 = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{14}$"),
    Field(description="GTIN-14: 14 digits, the last a GS1 check digit."),
]
Lot = Annotated[
    str,
    StringConstraints(pattern=rf"^[{_CSET82}]{{1,20}}$"),
    Field(description="GS1 AI (10) lot: 1-20 characters of GS1 CSET 82."),
]
Serial = Annotated[
    str,
    StringConstraints(pattern=rf"^[{_CSET82}]{{1,20}}$"),
    Field(description="GS1 AI (21) serial: 1-20 characters of GS1 CSET 82."),
]
BatchRef = Annotated[
    str,
    StringConstraints(pattern=rf"^[0-9]{{14}}\.[{_CSET82}]{{1,20}}$", max_length=40),
    Field(description="Batch id <gtin14>.<lot>."),
]
ClassLabel = Annotated[Text40, Field(description="GB 8624-2012 class label, e.g. B1(B-s1,d0,t1).")]
Quantity = Annotated[
    Dec3, Field(description="Quantity in the batch's unit: decimal string, at most 3 decimals.")
]
Area = Annotated[Dec3, Field(description="Area in m²: decimal string, at most 3 decimals.")]
Texts = Annotated[list[Text], Field(min_length=1, max_length=50)]
TextsOrNone = Annotated[list[Text], Field(min_length=0, max_length=50)]
Schema = Annotated[
    Literal[1], BeforeValidator(_exact_int), Field(description="Payload version of the type.")
]

Role = Literal[
    "manufacturer",
    "distributor",
    "testing_lab",
    "contractor",
    "supervisor",
    "building_owner",
    "regulator",
    "investigator",
    "designer",
    "drawing_reviewer",
]
Unit = Literal["m2", "m3", "board", "panel"]
InsulationType = Literal[
    "eps",
    "xps",
    "pu",
    "pir",
    "phenolic",
    "rock_wool",
    "glass_wool",
    "foam_glass",
    "aerogel",
    "inorganic_mortar",
    "foamed_cement",
    "vacuum_panel",
    "composite_panel",
]
Polymer = Literal["polystyrene", "polyurethane", "polyisocyanurate", "phenolic", "inorganic"]
BuildingUse = Literal[
    "residential",
    "public",
    "crowded_place",
    "elderly_care",
    "hangar",
    "industrial",
    "cold_storage",
    "ice_snow_venue",
]
Position = Literal["external_wall", "internal", "sandwich_core", "roof", "door_core"]
MeasuredProperty = Literal[
    "density",
    "compressive_strength",
    "water_absorption",
    "tensile_strength_perpendicular",
    "dimensional_stability",
    "smoke_toxicity",
]
CreditListKind = Literal[
    "ndrc_ordinary", "ndrc_serious", "samr_serious_illegal", "mohurd_bad_record"
]
DefectKind = Literal[
    "damage",
    "cracking",
    "hollowing",
    "detachment",
    "missing_protective_layer",
    "missing_fire_barrier_belt",
    "exposed_insulation",
    "water_ingress",
    "fire_damage",
    "other",
]
Verdict = Literal[
    "unknown_serial", "bad_signature", "recalled", "blacklisted", "not_qualified", "genuine"
]

_USCC_1 = "91320100MA0000001B"
_USCC_2 = "91320100MA0000002E"
_USCC_3 = "91320100MA0000003H"
_USCC_4 = "91320100MA0000004L"
_GTIN = "06900000000014"
_BATCH = f"{_GTIN}.L2026-001"
_DOC = "9f" * 32
_POLICY = {"id": "cn-national-2025", "version": "2025.1"}


class _Strict(BaseModel):
    """Unknown members refused, no coercion between JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class _Payload(_Strict):
    version: Schema = Field(alias="schema")


# -- organisations and keys (orgs.py, actors.py) ----------------------------------------------


class LabAccreditation(_Strict):
    cma: Text12 = Field(
        description="CMA accreditation number (检验检测机构资质认定), valid 6 years from issue."
    )
    issued_on: Day | None = None


class ActorRegister(_Payload):
    """actor.register (root): an organisation, its roles and its first key."""

    model_config = _example(
        {
            "schema": 1,
            "id": _USCC_1,
            "public_key": "MCowBQYDK2VwAyEA" + "A" * 27 + "=",
            "name": "江苏示例保温材料有限公司",
            "name_en": "Jiangsu Example Insulation Co., Ltd.",
            "roles": ["manufacturer"],
            "address": "江苏省南京市玄武区示例路1号",
            "domain": "insul.example.cn",
        }
    )
    id: Uscc
    public_key: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$"),
        Field(description="Ed25519 public key, 32 bytes in base64."),
    ]
    name: Text
    name_en: Text | None = None
    roles: Annotated[list[Role], Field(min_length=1, max_length=8)]
    address: Text
    domain: Text100 | None = Field(
        None, description="GS1 Digital Link host for the organisation's labels."
    )
    lab: LabAccreditation | None = Field(None, description="Required for role testing_lab.")


class OrgUpdate(_Payload):
    """org.update (root): new roles, address or a renewed CMA certificate."""

    model_config = _example(
        {"schema": 1, "id": _USCC_3, "lab": {"cma": "231502280012", "issued_on": "2023-05-10"}}
    )
    id: Uscc
    roles: Annotated[list[Role], Field(min_length=1, max_length=8)] | None = None
    address: Text | None = None
    lab: LabAccreditation | None = None


class OrgAffiliate(_Payload):
    """org.affiliate (either organisation or a regulator): a declared affiliation."""

    model_config = _example(
        {
            "schema": 1,
            "org": _USCC_1,
            "affiliate": _USCC_3,
            "relation": "parent",
            "date": "2026-11-20",
            "document": _DOC,
        }
    )
    org: Uscc
    affiliate: Uscc
    relation: Literal[
        "parent", "subsidiary", "shareholder", "same_legal_representative", "same_group"
    ]
    date: Day
    document: Sha256


ActorId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(description="The actor whose key changes (default: the signer)."),
]


class KeyRotate(_Strict):
    """key.rotate (the actor or root): the new key is valid from the next entry on."""

    model_config = _example({"public_key": "MCowBQYDK2VwAyEA" + "B" * 27 + "="})
    version: Schema | None = Field(None, alias="schema")
    actor: ActorId | None = None
    public_key: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$"),
        Field(description="The new Ed25519 public key, 32 bytes in base64."),
    ]


class KeyRevoke(_Strict):
    """key.revoke (the actor or root): the key is invalid from the next entry on."""

    model_config = _example({"key": "3f9c0e1a2b4d5e6f"})
    version: Schema | None = Field(None, alias="schema")
    actor: ActorId | None = None
    key: Annotated[
        str,
        StringConstraints(pattern=r"^[0-9a-f]{16}$"),
        Field(description="Key id: 16 hex digits."),
    ]
    reason: Text500 | None = Field(None, description="Why the key is revoked (kept in the log).")


class KeyAdd(_Strict):
    """key.add (the organisation): a device key held by one of its people, valid from the
    next entry on."""

    model_config = _example(
        {"public_key": "B" * 43 + "=", "holder": "zhao.supervisor", "device": "iPhone 15"}
    )
    version: Schema | None = Field(None, alias="schema")
    actor: ActorId | None = None
    public_key: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$"),
        Field(description="The device's Ed25519 public key, 32 bytes in base64."),
    ]
    holder: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"),
        Field(description="The sign-in name of the person who holds the key."),
    ]
    device: Annotated[
        str, StringConstraints(min_length=1, max_length=100), Field(description="A label.")
    ]


# -- products, batches, reports ----------------------------------------------------------------


class ProductRegister(_Payload):
    """product.register (manufacturer): type, polymer and thermoset flag (GB 50072-2021 §4.3.2)."""

    model_config = _example(
        {
            "schema": 1,
            "gtin": _GTIN,
            "name": "挤塑聚苯乙烯泡沫塑料板",
            "name_en": "XPS board",
            "type": "xps",
            "polymer": "polystyrene",
            "thermosetting": False,
            "standard": "GB/T 10801.2-2018",
        }
    )
    gtin: Gtin14
    name: Text
    name_en: Text | None = None
    type: InsulationType
    core: InsulationType | None = Field(None, description="Core material of a composite_panel.")
    polymer: Polymer
    thermosetting: bool
    standard: Text80 = Field(description="Product standard.")
    domain: Text100 | None = Field(
        None, description="GS1 Digital Link host (default: the manufacturer's)."
    )


class BatchRegister(_Payload):
    """batch.register (manufacturer): one production lot and its declared properties."""

    model_config = _example(
        {
            "schema": 1,
            "product": _GTIN,
            "lot": "L2026-001",
            "quantity": "1200",
            "unit": "m2",
            "production_date": "2026-11-01",
            "declared_class": "B1(B-s1,d0,t1)",
            "conductivity": "0.030",
            "density": "32",
        }
    )
    product: Gtin14
    lot: Lot
    quantity: Quantity
    unit: Unit
    production_date: Day
    declared_class: ClassLabel
    conductivity: Dec4 = Field(
        description="Declared thermal conductivity λ in W/(m·K); decimal string, at most 4 decimals, > 0."
    )
    density: Dec1 = Field(
        description="Declared density in kg/m³; decimal string, at most 1 decimal, > 0."
    )


class CombustionResult(_Strict):
    property: Literal["combustion"]
    standard: Text80 = Field(description="Test standard.")
    class_: ClassLabel = Field(alias="class")
    conforms: bool | None = None
    sample: Ident | None = None
    lab: Text18 | None = Field(None, description="Testing lab's USCC (default: the issuing lab).")


class ConductivityResult(_Strict):
    property: Literal["thermal_conductivity"]
    standard: Text80 = Field(description="Test standard.")
    value: Dec4 = Field(
        description="Thermal conductivity λ in W/(m·K); decimal string, at most 4 decimals, > 0."
    )
    unit: Text20 | None = Field(None, description="Unit as printed in the report.")
    conforms: bool | None = None
    sample: Ident | None = None
    lab: Text18 | None = Field(None, description="Testing lab's USCC (default: the issuing lab).")


class MeasuredResult(_Strict):
    property: MeasuredProperty
    standard: Text80 = Field(description="Test standard.")
    value: Dec2Zero = Field(
        description="Measured value, decimal string: density kg/m³, compressive strength kPa, "
        "water absorption % by volume, perpendicular tensile strength MPa, dimensional "
        "stability %."
    )
    unit: Text20 | None = Field(None, description="Unit as printed in the report.")
    conforms: bool | None = None
    sample: Ident | None = None
    lab: Text18 | None = Field(None, description="Testing lab's USCC (default: the issuing lab).")


TestResult = Annotated[
    CombustionResult | ConductivityResult | MeasuredResult, Field(discriminator="property")
]
Results = Annotated[list[TestResult], Field(min_length=1, max_length=20)]
_RESULTS = [
    {"property": "combustion", "standard": "GB 8624-2012", "class": "B1(B-s1,d0,t1)"},
    {"property": "thermal_conductivity", "standard": "GB/T 10294-2008", "value": "0.029"},
    {"property": "density", "standard": "GB/T 6343-2009", "value": "32"},
]


class ReportIssue(_Payload):
    """report.issue (testing lab): a factory test report of one batch."""

    model_config = _example(
        {
            "schema": 1,
            "number": "R2026-00017",
            "batch": _BATCH,
            "sample": "S1",
            "issued_on": "2026-11-10",
            "valid_until": "2027-11-09",
            "document": _DOC,
            "standards": ["GB 8624-2012", "GB/T 10294-2008", "GB/T 6343-2009"],
            "results": _RESULTS,
        }
    )
    number: Ident
    batch: BatchRef
    sample: Ident
    issued_on: Day
    valid_until: Day
    document: Sha256
    standards: Texts
    results: Results


# -- custody (custody.py) ----------------------------------------------------------------------


class Line(_Strict):
    batch: BatchRef
    unit: Unit = Field(description="The batch's unit.")
    quantity: Quantity


Lines = Annotated[list[Line], Field(min_length=1, max_length=200)]
_LINES = [{"batch": _BATCH, "unit": "m2", "quantity": "400"}]


class CustodyShip(_Payload):
    """custody.ship (holder): batches leave its holding and are in transit."""

    model_config = _example(
        {"schema": 1, "number": "D2026-0101", "to": _USCC_2, "date": "2026-11-20", "lines": _LINES}
    )
    number: Ident
    to: Uscc
    to_project: Ident | None = None
    from_project: Ident | None = None
    date: Day
    document: Sha256 | None = None
    lines: Lines


class Discrepancy(_Strict):
    kind: Literal["short", "damaged", "lost"]
    note: Text


class CustodyReceive(_Payload):
    """custody.receive (recipient): all or part of a shipment, with any discrepancy."""

    model_config = _example(
        {
            "schema": 1,
            "shipment": f"{_USCC_1}|D2026-0101",
            "date": "2026-11-21",
            "lines": _LINES,
        }
    )
    shipment: Text120 = Field(description="Shipment <shipper USCC>|<number>.")
    lines: Annotated[list[Line], Field(min_length=0, max_length=200)]
    date: Day
    close: bool | None = Field(None, description="Settle the shipment now.")
    discrepancy: Discrepancy | None = None


class CustodyReturn(_Payload):
    """custody.return (recipient of the original): goods go back to the shipper."""

    model_config = _example(
        {
            "schema": 1,
            "number": "RT2026-0003",
            "shipment": f"{_USCC_1}|D2026-0101",
            "date": "2026-11-22",
            "reason": "规格不符 wrong thickness",
            "lines": _LINES,
        }
    )
    number: Ident
    shipment: Text120 = Field(description="The original shipment <shipper USCC>|<number>.")
    from_project: Ident | None = None
    date: Day
    reason: Text
    document: Sha256 | None = None
    lines: Lines


class CustodyDestroy(_Payload):
    """custody.destroy (holder): quantity leaves the chain for good."""

    model_config = _example(
        {"schema": 1, "date": "2026-11-22", "reason": "召回销毁 recalled", "lines": _LINES}
    )
    project: Ident | None = None
    date: Day
    reason: Text
    document: Sha256 | None = None
    lines: Lines


# -- projects and site work (projects.py, site.py) --------------------------------------------


class Location(_Strict):
    province: Text
    city: Text
    address: Text


class Design(_Strict):
    use: BuildingUse
    height_m: Dec2 = Field(
        description="Building height in m; decimal string, at most 2 decimals, > 0."
    )
    cavity: bool | None = None
    contains_crowded_place: bool | None = None
    public_open: bool | None = None
    elderly_free_standing: bool | None = None
    open_flame_or_fuel: bool | None = None
    evacuation_or_refuge: bool | None = None
    elderly_combined_area_m2: Dec2Zero | None = Field(
        None, description="Area in m²; decimal string, at most 2 decimals, >= 0."
    )
    composite_noncombustible_layer_mm: Dec2Zero | None = Field(
        None, description="Non-combustible layer thickness in mm (decimal string)."
    )
    roof_slab_fire_resistance_h: Dec2Zero | None = Field(
        None, description="Roof slab fire resistance in h (decimal string)."
    )


class PolicyRef(_Strict):
    id: Text60 = Field(description="Combustion policy id (trace/policies/).")
    version: Text20 = Field(description="The policy version the entry is judged by.")
    sha256: Sha256 | None = Field(
        None,
        description="SHA-256 of the policy version file's exact bytes (policy_ref in "
        "trace/policy.py); required except for versions shipped before digests were named.",
    )


class Permit(_Strict):
    number: Text60 = Field(description="Construction permit number.")
    authority: Text


class Door(_Strict):
    """A cold-room door in a fire wall (GB 50072-2021 §4.2.3), on a door_core section."""

    clear_width_m: Dec2 = Field(description="Clear (净) opening width in m; decimal string.")
    clear_height_m: Dec2 = Field(description="Clear (净) opening height in m; decimal string.")
    face_class: ClassLabel = Field(description="GB 8624 class of the door's faces.")
    fire_integrity_h: Dec2 | None = Field(
        None, description="Fire integrity rating in h (decimal string), when rated."
    )


class Section(_Strict):
    id: Ident
    name: Text
    facade: Text40
    position: Position
    area_m2: Area
    design_class: ClassLabel
    door: Door | None = Field(None, description="The door's facts; door_core sections only.")


class ProjectRegister(_Payload):
    """project.register (owner): parties, design, policy, permit and wall sections."""

    model_config = _example(
        {
            "schema": 1,
            "id": "NJ-2026-0001",
            "name": "示例住宅项目",
            "contractor": _USCC_2,
            "supervisor": _USCC_3,
            "location": {"province": "江苏省", "city": "南京市", "address": "建邺区示例路8号"},
            "design": {"use": "residential", "height_m": "80"},
            "policy": _POLICY,
            "permit": {"number": "320105202611010101", "authority": "南京市建邺区住建局"},
            "sections": [
                {
                    "id": "N1",
                    "name": "北立面",
                    "facade": "north",
                    "position": "external_wall",
                    "area_m2": "600",
                    "design_class": "B1(B)",
                }
            ],
        }
    )
    id: Ident
    name: Text
    contractor: Uscc
    supervisor: Uscc
    location: Location
    design: Design
    policy: PolicyRef
    permit: Permit | None = None
    below_quota: bool | None = Field(None, description="Below the permit quota: no permit.")
    building: Ident | None = Field(None, description="An existing building the project is on.")
    sections: Annotated[list[Section], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _permit_or_quota(self) -> Self:
        if (self.below_quota is True) == (self.permit is not None):
            raise ValueError("give either permit or below_quota: true")
        return self


class ProjectFile(_Payload):
    """project.file (regulator): 属地备案 of a small project below the quota."""

    model_config = _example(
        {"schema": 1, "project": "NJ-2026-0002", "number": "备2026-015", "date": "2026-11-20"}
    )
    project: Ident
    number: Text60
    date: Day


class SiteBriefing(_Payload):
    """site.briefing (contractor): technical briefing or risk notification."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "kind": "technical_briefing",
            "date": "2026-11-20",
            "attendees": ["张工", "李工"],
            "topics": ["防火隔离带施工"],
            "document": _DOC,
        }
    )
    project: Ident
    kind: Literal["technical_briefing", "risk_notification"]
    date: Day
    attendees: Texts
    topics: Texts
    document: Sha256


class SiteInspect(_Payload):
    """site.inspect (supervisor): arrival inspection of a delivered batch."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "batch": _BATCH,
            "date": "2026-11-21",
            "label_class": "B1(B)级",
            "accepted": True,
        }
    )
    project: Ident
    batch: BatchRef
    date: Day
    label_class: ClassLabel
    accepted: bool
    counted: Quantity | None = Field(None, description="Quantity counted on arrival.")
    discrepancy: Literal["short", "damaged", "wrong_product", "label_mismatch", "other"] | None = (
        Field(None, description="What the count or the look of the goods did not match.")
    )
    note: Text500 | None = None
    photos: Annotated[list[Sha256], Field(min_length=0, max_length=20)] | None = Field(
        None, description="Photos of the delivery: SHA-256 of each (POST /v1/documents)."
    )


class Sampler(_Strict):
    name: Text40
    org: Uscc


class SiteSample(_Payload):
    """site.sample (supervisor or owner as witness): 见证取样 for a re-test."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "sample": "WS001",
            "batch": _BATCH,
            "quantity": "2",
            "date": "2026-11-21",
            "lab": _USCC_4,
            "sampler": {"name": "王取样", "org": _USCC_2},
            "witness": "赵监理",
        }
    )
    project: Ident
    sample: Ident
    batch: BatchRef
    quantity: Quantity
    date: Day
    lab: Uscc
    sampler: Sampler
    witness: Text


class SiteRetestResult(_Payload):
    """site.retest_result (the sample's lab): the witnessed re-test's results."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "sample": "WS001",
            "number": "F2026-00031",
            "date": "2026-11-22",
            "document": _DOC,
            "results": _RESULTS,
        }
    )
    project: Ident
    sample: Ident
    number: Ident
    date: Day
    document: Sha256
    results: Results


class SiteInstall(_Payload):
    """site.install (contractor): a quantity of a batch into a wall section."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "section": "N1",
            "batch": _BATCH,
            "quantity": "300",
            "area_m2": "300",
            "date": "2026-11-22",
        }
    )
    project: Ident
    section: Ident
    batch: BatchRef
    quantity: Quantity
    area_m2: Area
    date: Day


class ProjectAccept(_Payload):
    """project.accept (supervisor, owner): acceptance, with the measures attested."""

    model_config = _example(
        {"schema": 1, "project": "NJ-2026-0001", "date": "2026-11-22", "document": _DOC}
    )
    project: Ident
    date: Day
    document: Sha256
    measures: TextsOrNone | None = Field(None, description="Ancillary measures attested.")


# -- existing buildings (buildings.py) --------------------------------------------------------


class Survey(_Strict):
    date: Day
    surveyor: Text
    document: Sha256


class SurveyedFacade(_Strict):
    facade: Text40
    position: Position
    insulation_type: InsulationType | Literal["unknown"]
    class_: Text40 = Field(alias="class", description="GB 8624-2012 class label, or unknown.")
    manufacturer: Text100 | None = None
    contractor: Text100 | None = None
    installed_year: Annotated[int, Field(ge=1950, le=9999)] | None = None
    area_m2: Area


class BuildingRegisterSurvey(_Payload):
    """building.register_survey (owner, regulator, investigator): a building from a survey."""

    model_config = _example(
        {
            "schema": 1,
            "id": "GL-NJ-001",
            "name": "示例小区3号楼",
            "owner": _USCC_1,
            "address": "江苏省南京市鼓楼区示例路3号",
            "use": "residential",
            "height_m": "54",
            "survey": {"date": "2026-10-15", "surveyor": "南京示例检测", "document": _DOC},
            "facades": [
                {
                    "facade": "south",
                    "position": "external_wall",
                    "insulation_type": "eps",
                    "class": "B2",
                    "installed_year": 2009,
                    "area_m2": "1800",
                }
            ],
        }
    )
    id: Ident
    name: Text
    owner: Uscc
    address: Text
    use: BuildingUse
    height_m: Dec2 = Field(
        description="Building height in m; decimal string, at most 2 decimals, > 0."
    )
    survey: Survey
    facades: Annotated[list[SurveyedFacade], Field(min_length=1, max_length=40)]


class Defect(_Strict):
    id: Ident
    kind: DefectKind
    facade: Text40
    location: Text
    severity: Literal["minor", "major", "critical"]
    description: Text | None = None


class BuildingInspect(_Payload):
    """building.inspect (owner): periodic inspection with the defects found."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "date": "2026-11-02",
            "inspector": "李检查",
            "facades": ["south"],
            "document": _DOC,
            "defects": [
                {
                    "id": "D1",
                    "kind": "hollowing",
                    "facade": "south",
                    "location": "5-7层",
                    "severity": "major",
                }
            ],
        }
    )
    building: Ident
    date: Day
    inspector: Text60
    facades: Texts
    document: Sha256
    defects: Annotated[list[Defect], Field(min_length=0, max_length=200)]


class RectificationOrder(_Payload):
    """rectification.order (regulator): defects to rectify by a deadline."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "number": "NJZJ-ZG-2026-001",
            "date": "2026-11-05",
            "deadline": "2027-02-05",
            "defects": ["D1"],
            "measures": "空鼓部位铲除重做 remove and redo hollow areas",
        }
    )
    building: Ident
    number: Ident
    date: Day
    deadline: Day
    defects: Texts
    measures: Text500


class RectificationComplete(_Payload):
    """rectification.complete (owner): an order carried out."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "number": "NJZJ-ZG-2026-001",
            "date": "2026-12-20",
            "document": _DOC,
        }
    )
    building: Ident
    number: Ident
    date: Day
    document: Sha256
    project: Ident | None = None


# -- recall and corrections (recall.py, corrections.py) ---------------------------------------


class Decision(_Strict):
    number: Text60 = Field(description="Decision number.")
    document: Sha256


class BatchRecall(_Payload):
    """batch.recall: a failed re-test (with its sample) or fraud (with a decision)."""

    model_config = _example(
        {
            "schema": 1,
            "batch": _BATCH,
            "reason": "failed_retest",
            "sample": "NJ-2026-0001|WS001",
        }
    )
    batch: BatchRef
    reason: Literal["failed_retest", "fraud"]
    sample: Text170 | None = Field(
        None, description="The failed sample <project>|<sample> (reason failed_retest)."
    )
    decision: Decision | None = Field(None, description="The decision (reason fraud).")
    note: Text500 | None = None


class Target(_Strict):
    kind: Literal["org", "product", "batch", "project", "building"]
    id: Text120


class EntryCorrect(_Payload):
    """entry.correct (the record's author): new values for correctable fields."""

    model_config = _example(
        {
            "schema": 1,
            "corrects": 42,
            "target": {"kind": "project", "id": "NJ-2026-0001"},
            "reason": "地址门牌号录入错误",
            "set": {"name": "示例住宅项目一期"},
        }
    )
    corrects: Annotated[int, Field(ge=0, le=2**53 - 1, description="Seq of the entry.")]
    target: Target
    reason: Text500
    set: Annotated[
        dict[str, Text | Location],
        Field(min_length=1, description="Field -> new value (corrections.CORRECTABLE)."),
    ]


# -- credit, permits, incidents (credit.py, gate.py, backtrace.py) -----------------------------


class CreditAuthorize(_Payload):
    """credit.authorize (root): the credit lists a regulator may publish on."""

    model_config = _example({"schema": 1, "authority": _USCC_4, "lists": ["mohurd_bad_record"]})
    authority: Uscc
    lists: Annotated[list[CreditListKind], Field(min_length=0, max_length=4)]


class ListingDecision(_Strict):
    number: Ident
    date: Day
    document: Sha256


class CreditList(_Payload):
    """credit.list (an authorised authority): a subject published on a credit list."""

    model_config = _example(
        {
            "schema": 1,
            "subject": _USCC_1,
            "subject_name": "江苏示例保温材料有限公司",
            "list": "mohurd_bad_record",
            "policy": _POLICY,
            "decision": {"number": "JSZJ-2026-07", "date": "2026-11-01", "document": _DOC},
            "min_date": "2027-05-01",
            "max_date": "2027-11-01",
            "reason": "检测报告失实 false test report",
        }
    )
    subject: Uscc
    subject_name: Text100 | None = Field(
        None, description="Required when the subject is not a registered organisation."
    )
    list: CreditListKind
    policy: PolicyRef
    decision: ListingDecision
    min_date: Day
    max_date: Day
    reason: Text500


class CreditRepairApply(_Payload):
    """credit.repair_apply (the listed subject): credit repair after the minimum period."""

    model_config = _example(
        {
            "schema": 1,
            "listing": f"{_USCC_4}|JSZJ-2026-07",
            "date": "2027-05-02",
            "commitment": _DOC,
            "evidence": "8e" * 32,
        }
    )
    listing: Text120 = Field(description="Listing <authority USCC>|<decision number>.")
    date: Day
    commitment: Sha256
    evidence: Sha256


class CreditRepairDecide(_Payload):
    """credit.repair_decide (the listing authority): repair granted or not."""

    model_config = _example(
        {
            "schema": 1,
            "listing": f"{_USCC_4}|JSZJ-2026-07",
            "granted": True,
            "number": "JSZJ-XF-2027-03",
            "date": "2027-05-20",
            "document": _DOC,
        }
    )
    listing: Text120 = Field(description="Listing <authority USCC>|<decision number>.")
    granted: bool
    number: Ident
    date: Day
    document: Sha256
    note: Text500 | None = None


class PermitDecide(_Payload):
    """permit.decide (regulator): the gate's outcome and refused rules at one stage."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "stage": "fire_design_review",
            "outcome": "pass",
            "rules": [],
            "number": "NJXF-SC-2026-0101",
        }
    )
    project: Ident
    stage: Literal["fire_design_review", "construction_permit", "fire_acceptance"]
    outcome: Literal["pass", "refuse"]
    rules: TextsOrNone | None = Field(None, description="Rule ids refused (empty on pass).")
    number: Ident
    document: Sha256 | None = None
    policy: PolicyRef | None = Field(None, description="Default: the project's policy.")


class IncidentRecord(_Payload):
    """incident.record (investigator, regulator): an accident on a building."""

    model_config = _example(
        {
            "schema": 1,
            "id": "INC-2026-001",
            "building": "GL-NJ-001",
            "date": "2026-11-20",
            "kind": "detachment",
            "facades": ["south"],
            "description": "南立面保温层脱落 insulation fell from the south facade",
        }
    )
    id: Ident
    building: Ident
    date: Day
    kind: Literal["fire", "detachment", "falling", "other"]
    facades: TextsOrNone | None = None
    description: Text1000
    document: Sha256 | None = None


# -- labels (labels.py) ------------------------------------------------------------------------


class LabelIssue(_Payload):
    """label.issue (manufacturer): a serial range on record before it is printed."""

    model_config = _example(
        {
            "schema": 1,
            "batch": _BATCH,
            "first": "SN000001",
            "count": 240,
            "resolver": "id.insutrace.local",
            "key": "3f9c0e1a2b4d5e6f",
        }
    )
    batch: BatchRef
    first: Text20 = Field(
        description="First serial: 1-20 characters of GS1 CSET 82 ending in digits "
        "(else rule label.serial)."
    )
    count: Annotated[int, Field(ge=1, le=1_000_000, description="Number of labels.")]
    resolver: Text100 = Field(description="GS1 Digital Link host printed on the labels.")
    key: Text16 = Field(description="Id of the manufacturer's key that signs the labels.")


class LabelReprint(_Payload):
    """label.reprint (manufacturer): issued serials printed again (a printer jam, a damaged
    sheet); every serial of the range was issued for the batch and is not voided."""

    model_config = _example(
        {
            "schema": 1,
            "batch": _BATCH,
            "first": "SN000101",
            "count": 24,
            "reason": "打印机卡纸 printer jam",
        }
    )
    batch: BatchRef
    first: Text20 = Field(description="First serial of the range printed again.")
    count: Annotated[int, Field(ge=1, le=100_000, description="Number of labels.")]
    reason: Text500 = Field(description="Why the labels are printed again.")


class LabelVoid(_Payload):
    """label.void (manufacturer): issued serials that must never be used (spoiled, lost,
    or printed in error); a scan of one of them is an unknown serial from then on."""

    model_config = _example(
        {
            "schema": 1,
            "batch": _BATCH,
            "first": "SN000101",
            "count": 24,
            "reason": "卡纸损坏 spoiled in a printer jam",
        }
    )
    batch: BatchRef
    first: Text20 = Field(description="First serial of the range voided.")
    count: Annotated[int, Field(ge=1, le=100_000, description="Number of labels.")]
    reason: Text500 = Field(description="Why the labels are voided.")


class LabelScan(_Payload):
    """label.scan (the project's supervisor or contractor): a scanned label and its verdict."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "gtin": _GTIN,
            "lot": "L2026-001",
            "serial": "SN000001",
            "verdict": "unknown_serial",
        }
    )
    project: Ident
    gtin: Gtin14
    lot: Lot
    serial: Serial
    key: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,16}$"),
            Field(description="The label's k: the signing key id."),
        ]
        | None
    ) = None
    sig: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$"),
            Field(description="The label's s: Ed25519 signature, base64url."),
        ]
        | None
    ) = None
    verdict: Verdict
    by: Text100 | None = Field(None, description="Who scanned.")

    @model_validator(mode="after")
    def _key_with_sig(self) -> Self:
        if (self.key is None) != (self.sig is None):
            raise ValueError("key and sig come together (the label's k and s)")
        return self


# -- design changes, measures, persons, existing buildings, industry norms ---------------------
# (design.py, measures.py, persons.py, existing.py, norms.py)

_PERSON = "P-" + "3c" * 20
PersonId = Annotated[
    str,
    StringConstraints(pattern=r"^P-[0-9a-f]{40}$"),
    Field(description="Person id: P- and 40 hex digits, a keyed hash (docs/persons.md)."),
]
PersonRole = Literal[
    "project_manager", "chief_supervisor", "sampler", "witness", "safety_manager", "designer"
]
Mm = Annotated[Dec1, Field(description="Millimetres: decimal string, at most 1 decimal, > 0.")]
Hours = Annotated[Dec2, Field(description="Hours: decimal string, at most 2 decimals, > 0.")]


class DesignChange(_Payload):
    """design.change (owner): a change to a section's class or material (设计变更)."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "number": "BG-2026-003",
            "section": "N1",
            "design_class": "A2",
            "material": "rock_wool",
            "reason": "提高外墙保温燃烧性能等级 raise the external wall's class",
            "document": _DOC,
            "designer": _USCC_1,
            "reviewer": _USCC_2,
        }
    )
    project: Ident
    number: Ident
    section: Ident
    design_class: ClassLabel | None = None
    material: InsulationType | None = None
    reason: Text500
    document: Sha256
    designer: Uscc = Field(description="The design institute (role designer) that approves.")
    reviewer: Uscc = Field(description="The drawing review body (role drawing_reviewer).")

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.design_class is None and self.material is None:
            raise ValueError("give design_class, material or both")
        return self


class DesignApprove(_Payload):
    """design.approve (the named designer or drawing reviewer): its signed approval."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "number": "BG-2026-003",
            "date": "2026-11-20",
            "document": _DOC,
        }
    )
    project: Ident
    number: Ident
    date: Day
    document: Sha256


class Barrier(_Strict):
    batch: BatchRef
    class_: ClassLabel = Field(alias="class")
    height_mm: Mm = Field(description="Barrier belt height (width on the wall) in mm.")
    floors: Annotated[int, Field(ge=1, le=300, description="Floors the belt is laid at.")]


class ProtectiveLayer(_Strict):
    ground_floor_mm: Mm
    other_floors_mm: Mm
    material: Text100


class DoorWindow(_Strict):
    integrity_h: Hours = Field(description="Fire integrity (耐火完整性) in hours.")
    openings: Annotated[int, Field(ge=1, le=100000)]
    certificate: Text60 = Field(description="Test report or certificate number.")


class FireEngineering(_Strict):
    number: Text60 = Field(description="Number of the special fire-engineering design.")
    title: Text
    reviewed_by: Text100


class MeasureRecord(_Payload):
    """measure.record (contractor, supervisor or owner): an ancillary fire measure."""

    model_config = _example(
        {
            "schema": 1,
            "project": "NJ-2026-0001",
            "id": "M1",
            "kind": "fire_barrier_belt",
            "section": "N1",
            "date": "2026-11-22",
            "document": _DOC,
            "barrier": {
                "batch": _BATCH,
                "class": "A1",
                "height_mm": "300",
                "floors": 26,
            },
        }
    )
    project: Ident
    id: Ident
    kind: Literal["fire_barrier_belt", "protective_layer", "door_window", "fire_engineering"]
    section: Ident | None = None
    date: Day
    document: Sha256
    barrier: Barrier | None = None
    protective_layer: ProtectiveLayer | None = None
    door_window: DoorWindow | None = None
    fire_engineering: FireEngineering | None = None

    @model_validator(mode="after")
    def _facts_of_kind(self) -> Self:
        given = {
            "fire_barrier_belt": self.barrier,
            "protective_layer": self.protective_layer,
            "door_window": self.door_window,
            "fire_engineering": self.fire_engineering,
        }
        member = {"fire_barrier_belt": "barrier"}
        for kind, facts in given.items():
            if (kind == self.kind) != (facts is not None):
                wanted = member.get(self.kind, self.kind)
                raise ValueError(f"kind {self.kind} takes the member {wanted} and no other")
        if self.kind != "fire_engineering" and self.section is None:
            raise ValueError(f"a {self.kind} is recorded on a section")
        return self


class PersonRegister(_Payload):
    """person.register (the employing organisation): a named person in a role."""

    model_config = _example(
        {
            "schema": 1,
            "person": _PERSON,
            "name": "赵监理",
            "role": "witness",
            "certificate": "监理00123456",
        }
    )
    person: PersonId
    name: Text40
    role: PersonRole
    certificate: Text40 | None = Field(None, description="Registered practitioner certificate.")


class PersonAssign(_Payload):
    """person.assign (the person's employer, a party of the project): a person on a project."""

    model_config = _example(
        {"schema": 1, "project": "NJ-2026-0001", "person": _PERSON, "role": "witness"}
    )
    project: Ident
    person: PersonId
    role: PersonRole


class PersonList(_Payload):
    """person.list (an authorised authority): a person on a credit list, with the unit."""

    model_config = _example(
        {
            "schema": 1,
            "person": _PERSON,
            "org": _USCC_1,
            "role": "project_manager",
            "list": "mohurd_bad_record",
            "policy": _POLICY,
            "decision": {"number": "JSZJ-2026-07", "date": "2026-11-01", "document": _DOC},
            "min_date": "2027-05-01",
            "max_date": "2027-11-01",
            "reason": "项目经理对检测报告失实负直接责任 directly responsible",
        }
    )
    person: PersonId
    org: Uscc = Field(description="The unit the person acted for (joint punishment).")
    role: PersonRole
    list: CreditListKind
    policy: PolicyRef
    decision: ListingDecision
    min_date: Day
    max_date: Day
    reason: Text500


class Panel(_Strict):
    core: InsulationType | Literal["unknown"]
    core_class: Text40 = Field(description="GB 8624-2012 class of the core, or unknown.")
    sleeping_area: bool = Field(description="The panels enclose a sleeping area (GB 35181 6.10).")
    area_m2: Area


class HazardRecord(_Payload):
    """hazard.record (owner or regulator): a hazard on an existing building (隐患清单)."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "id": "H1",
            "date": "2026-11-02",
            "source": "facade_inspection",
            "kind": "protective_layer_cracked",
            "severity": "general",
            "location": "南立面 5-7层",
            "description": "抹面层开裂 render cracked",
            "document": _DOC,
        }
    )
    building: Ident
    id: Ident
    date: Day
    source: Literal["facade_inspection", "sandwich_panel_survey", "fire_inspection", "other"]
    kind: Literal[
        "protective_layer_cracked",
        "protective_layer_spalled",
        "protective_layer_detached",
        "sandwich_panel_combustible_core",
        "signage_missing",
        "other",
    ]
    severity: Literal["general", "major"]
    location: Text
    description: Text500
    document: Sha256
    panel: Panel | None = None

    @model_validator(mode="after")
    def _panel_facts(self) -> Self:
        if (self.kind == "sandwich_panel_combustible_core") != (self.panel is not None):
            raise ValueError("panel facts come with, and only with, a sandwich-panel core hazard")
        return self


class HazardAssign(_Payload):
    """hazard.assign (owner): rectification, responsible person and deadline (整改清单)."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "hazard": "H1",
            "person": _PERSON,
            "date": "2026-11-03",
            "deadline": "2026-12-31",
            "measures": "铲除开裂抹面层并重做 remove and redo the cracked render",
        }
    )
    building: Ident
    hazard: Ident
    person: PersonId
    date: Day
    deadline: Day
    measures: Text500


class HazardClose(_Payload):
    """hazard.close (owner; the supervising regulator when listed): closed with evidence (销号)."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "hazard": "H1",
            "date": "2026-12-20",
            "evidence": _DOC,
            "note": "复查合格 re-inspected and found sound",
        }
    )
    building: Ident
    hazard: Ident
    date: Day
    evidence: Sha256
    note: Text500 | None = None


class HazardSupervise(_Payload):
    """hazard.supervise (regulator): listed supervision of a major hazard (挂牌督办)."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "hazard": "H2",
            "number": "NJXF-GP-2026-01",
            "date": "2026-11-05",
            "deadline": "2027-03-31",
            "document": _DOC,
        }
    )
    building: Ident
    hazard: Ident
    number: Ident
    date: Day
    deadline: Day
    document: Sha256


class SignagePost(_Payload):
    """signage.post (owner): the insulation's class posted at a conspicuous place."""

    model_config = _example(
        {
            "schema": 1,
            "building": "GL-NJ-001",
            "id": "SIGN-1",
            "location": "一层主入口 main entrance",
            "class": "B2",
            "date": "2026-11-10",
            "photo": _DOC,
        }
    )
    building: Ident
    id: Ident
    location: Text
    class_: ClassLabel = Field(alias="class", description="The class the sign states.")
    date: Day
    photo: Sha256


class NormsList(_Payload):
    """norms.list (regulator): a manufacturer's standing on an industry list (行业规范条件)."""

    model_config = _example(
        {
            "schema": 1,
            "manufacturer": _USCC_1,
            "list": "南京市建筑保温材料行业清单",
            "number": "宁工信〔2026〕12号",
            "date": "2026-06-30",
            "standing": "listed",
            "document": _DOC,
        }
    )
    manufacturer: Uscc
    list: Text100
    number: Ident
    date: Day
    standing: Literal["listed", "removed"]
    document: Sha256


# -- validation errors as JSON Pointers ---------------------------------------------------------


class PayloadInvalid(MalformedInput):
    """A payload its type's model refuses; ``errors`` are ``{pointer, detail}`` (RFC 6901)."""

    def __init__(self, type: str, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"pointer": "/payload", "detail": "invalid"}
        super().__init__(f"{type}: {first['pointer']}: {first['detail']}")
        self.type = type
        self.errors = errors


def pointer(loc: Sequence[int | str], root: str = "/payload") -> str:
    """The RFC 6901 JSON Pointer of a pydantic error location (``~`` and ``/`` escaped)."""
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in loc]
    return "/".join([root, *parts])


def _member_path(loc: Sequence[int | str], payload: Any, missing: bool) -> list[int | str]:
    """The members of ``payload`` a pydantic location walks through.

    Unions add the name of the member type tried (``results/0/combustion/class``,
    ``set/name/str``); a part that is not a member of the value reached is such a tag,
    unless it names the required member that is ``missing``.
    """
    path: list[int | str] = []
    here = payload
    for i, part in enumerate(loc):
        absent = missing and i == len(loc) - 1
        if isinstance(here, dict) and (part in here or absent):
            path.append(part)
            here = here.get(part)
        elif isinstance(here, list) and isinstance(part, int):
            path.append(part)
            here = here[part] if 0 <= part < len(here) else None
    return path


def field_errors(errors: Iterable[Mapping[str, Any]], payload: Any) -> list[dict[str, str]]:
    """``{pointer, detail}`` for each pydantic error (``loc``, ``msg``, ``type``) of ``payload``."""
    return [
        {
            "pointer": pointer(_member_path(e["loc"], payload, e["type"] == "missing")),
            "detail": e["msg"],
        }
        for e in errors
    ]


def validate(model: type[BaseModel], type: str, payload: Any) -> BaseModel:
    """Validate ``payload`` of a ``type`` entry against its model; PayloadInvalid names each
    bad member."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadInvalid(type, field_errors(exc.errors(include_url=False), payload)) from None


# -- the alert lifecycle (alerts.py) -----------------------------------------------------------

AlertId = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=200, pattern=r"^(clone|overscan|counterfeit|retest|credit)\|\S"
    ),
    Field(description="An alert id as the inbox lists it, e.g. clone|<batch>|<serial>."),
]


class AlertAcknowledge(_Payload):
    """alert.acknowledge (regulator, investigator): the alert is seen and being handled."""

    model_config = _example({"schema": 1, "alert": f"clone|{_BATCH}|SN000001"})
    alert: AlertId
    note: Text500 | None = None


class AlertAssign(_Payload):
    """alert.assign (regulator, investigator): who handles the acknowledged alert."""

    model_config = _example(
        {"schema": 1, "alert": f"clone|{_BATCH}|SN000001", "assignee": "王科长 Inspector Wang"}
    )
    alert: AlertId
    assignee: Text100
    note: Text500 | None = None


class AlertClose(_Payload):
    """alert.close (regulator, investigator): the alert is closed, the note says why."""

    model_config = _example(
        {"schema": 1, "alert": f"clone|{_BATCH}|SN000001", "note": "现场核查：标识系复印件，已查扣"}
    )
    alert: AlertId
    note: Text500
