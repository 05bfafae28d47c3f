"""Customers from a CRM export (CSV): every row is checked first; one error and nothing is imported.

The file has exactly the columns ``unique_id,name,tier,email,phone,whatsapp,references`` (references
separated by ``;``). Rows are numbered as a spreadsheet shows them: row 1 is the header, row 2 the first
customer. The import is idempotent: the same file twice changes nothing the second time. It adds, it never
takes away or moves: a customer's name and tier are updated, new addresses and references are added, and an
address or reference that already belongs to *another* customer is an error for that row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.channels import Channel
from tickets.errors import HelpdeskError
from tickets.models import Customer, CustomerIdentity, Reference, ReferenceKind
from tickets.services import audit
from tickets.services.customers import classify_reference, normalise_address

COLUMNS = ("unique_id", "name", "tier", "email", "phone", "whatsapp", "references")
# CSV column → the channel whose address rules read it (a phone number is a voice/SMS identity).
ADDRESS_COLUMNS = {"email": Channel.EMAIL, "phone": Channel.VOICE, "whatsapp": Channel.WHATSAPP}
REFERENCE_SEPARATOR = ";"
HEADER_ROW = 1
# Rows per database lookup: well under every backend's limit on query parameters.
CHUNK = 500


@dataclass(frozen=True)
class RowError:
    """One problem, by the row a spreadsheet shows (1 is the header; ``None``: the file as a whole)."""

    row: int | None
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}" if self.row is not None else f"file: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    # A customer whose name or tier changed, or who got a new address or reference.
    updated: int = 0
    unchanged: int = 0
    identities_added: int = 0
    references_added: int = 0
    errors: list[RowError] = field(default_factory=list)
    # The customers created or changed (for the audit trail).
    changed_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int | None, message: str) -> None:
        self.errors.append(RowError(row, message))

    def summary(self) -> str:
        if self.errors:
            lines = "\n".join(str(e) for e in self.errors)
            return f"{len(self.errors)} error(s); nothing was imported.\n{lines}"
        return (
            f"{self.rows} row(s): {self.created} customer(s) created, {self.updated} updated, "
            f"{self.unchanged} unchanged; {self.identities_added} identities and "
            f"{self.references_added} references added."
        )


@dataclass
class _Row:
    number: int
    unique_id: str
    name: str
    tier: str
    identities: list[tuple[str, str]]  # (identity kind, normalised address)
    references: list[tuple[ReferenceKind, str]]


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    return data.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a byte-order mark


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) for every record, blank lines counted; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    yield from enumerate(reader, start=HEADER_ROW)


def _check_header(cells: list[str], report: ImportReport) -> bool:
    header = [c.strip() for c in cells]
    if header == list(COLUMNS):
        return True
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    repeated = sorted({c for c in header if header.count(c) > 1})
    problems = [
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected {', '.join(c or '(blank)' for c in extra)}" if extra else "",
        f"repeated {', '.join(repeated)}" if repeated else "",
    ]
    detail = "; ".join(p for p in problems if p) or "columns in another order"
    report.error(HEADER_ROW, f"the header must be exactly {','.join(COLUMNS)} ({detail})")
    return False


def _read_row(number: int, cells: list[str], kinds: list[ReferenceKind], report: ImportReport) -> _Row | None:
    values = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
    problems: list[str] = []
    unique_id = values["unique_id"]
    if not unique_id:
        problems.append("unique_id is empty")
    elif len(unique_id) > _max_length(Customer, "unique_id"):
        problems.append(f"unique_id is longer than {_max_length(Customer, 'unique_id')} characters")
    if len(values["name"]) > _max_length(Customer, "name"):
        problems.append(f"name is longer than {_max_length(Customer, 'name')} characters")
    tier = values["tier"].lower() or Customer.Tier.STANDARD
    if tier not in Customer.Tier.values:
        problems.append(f"tier {values['tier']!r} is not one of {', '.join(Customer.Tier.values)}")
    identities = []
    for column, channel in ADDRESS_COLUMNS.items():
        if not values[column]:
            continue
        try:
            kind, address = normalise_address(channel, values[column])
        except HelpdeskError as exc:
            problems.append(f"{column}: {exc}")
            continue
        if len(address) > _max_length(CustomerIdentity, "address"):
            problems.append(f"{column} is longer than {_max_length(CustomerIdentity, 'address')} characters")
        elif (kind, address) not in identities:
            identities.append((kind, address))
    references = []
    for raw in values["references"].split(REFERENCE_SEPARATOR):
        if not raw.strip():
            continue
        kind, value = classify_reference(raw, kinds)
        if len(value) > _max_length(Reference, "value"):
            problems.append(
                f"reference {value[:20]}… is longer than {_max_length(Reference, 'value')} characters"
            )
        elif (kind, value) not in references:
            references.append((kind, value))
    for problem in problems:
        report.error(number, problem)
    return None if problems else _Row(number, unique_id, values["name"], tier, identities, references)


def _read(text: str, report: ImportReport) -> list[_Row]:
    """Every row checked on its own (cells, unique ID, tier, addresses, references), every problem kept."""
    kinds = list(ReferenceKind.objects.filter(active=True).order_by("code"))
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    number = 0  # the last row read
    try:
        for number, cells in _records(text):
            if number == HEADER_ROW:
                if not _check_header(cells, report):
                    return []
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line: nothing to import, but it keeps its row number
            report.rows += 1
            if len(cells) != len(COLUMNS):
                report.error(number, f"has {len(cells)} cells; expected {len(COLUMNS)} ({','.join(COLUMNS)})")
                continue
            row = _read_row(number, cells, kinds, report)
            unique_id = cells[0].strip()
            if unique_id and unique_id in seen:
                report.error(number, f"unique_id {unique_id} is also on row {seen[unique_id]}")
                continue
            seen.setdefault(unique_id, number)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        report.error(number + 1, f"not readable as CSV ({exc})")
    if number == 0:
        report.error(None, f"the file is empty; expected the header {','.join(COLUMNS)}")
    return rows


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing_identities(rows: list[_Row]) -> dict[tuple[str, str], tuple[int, str]]:
    """(kind, address) → (customer pk, unique ID) for the file's addresses already known."""
    addresses = sorted({a for r in rows for _, a in r.identities})
    found = {}
    for chunk in _chunks(addresses):
        for kind, address, pk, unique_id in CustomerIdentity.objects.filter(address__in=chunk).values_list(
            "channel", "address", "customer_id", "customer__unique_id"
        ):
            found[(kind, address)] = (pk, unique_id)
    return found


def _existing_references(rows: list[_Row]) -> dict[tuple[int, str], tuple[int, str]]:
    """(kind pk, value) → (customer pk, unique ID) for the file's references already known."""
    values = sorted({v for r in rows for _, v in r.references})
    found = {}
    for chunk in _chunks(values):
        for kind_id, value, pk, unique_id in Reference.objects.filter(value__in=chunk).values_list(
            "kind_id", "value", "customer_id", "customer__unique_id"
        ):
            found[(kind_id, value)] = (pk, unique_id)
    return found


def _check_ownership(rows, identities, references, report: ImportReport) -> None:
    """An address or reference of another customer (in the database or on another row) is never moved."""
    in_file: dict[tuple, tuple[str, int]] = {}
    for row in rows:
        for kind, address in row.identities:
            owner = identities.get((kind, address))
            if owner and owner[1] != row.unique_id:
                report.error(row.number, f"{address} already belongs to customer {owner[1]}")
            other = in_file.setdefault(("identity", kind, address), (row.unique_id, row.number))
            if other[0] != row.unique_id:
                report.error(row.number, f"{address} is also given to {other[0]} on row {other[1]}")
        for kind, value in row.references:
            owner = references.get((kind.pk, value))
            if owner and owner[1] != row.unique_id:
                report.error(row.number, f"reference {value} already belongs to customer {owner[1]}")
            other = in_file.setdefault(("reference", kind.pk, value), (row.unique_id, row.number))
            if other[0] != row.unique_id:
                report.error(row.number, f"reference {value} is also given to {other[0]} on row {other[1]}")


def _write(rows: list[_Row], identities, references, report: ImportReport) -> None:
    existing: dict[str, Customer] = {}
    for chunk in _chunks([r.unique_id for r in rows]):
        existing.update(Customer.objects.in_bulk(chunk, field_name="unique_id"))
    Customer.objects.bulk_create(
        [
            Customer(unique_id=r.unique_id, name=r.name, tier=r.tier)
            for r in rows
            if r.unique_id not in existing
        ]
    )
    report.created = sum(r.unique_id not in existing for r in rows)
    customers: dict[str, Customer] = {}
    for chunk in _chunks([r.unique_id for r in rows]):
        customers.update(Customer.objects.in_bulk(chunk, field_name="unique_id"))

    now = timezone.now()
    changed: list[Customer] = []
    new_identities: list[CustomerIdentity] = []
    new_references: list[Reference] = []
    for row in rows:
        customer = customers[row.unique_id]
        added = False
        for kind, address in row.identities:
            if (kind, address) not in identities:
                new_identities.append(CustomerIdentity(customer=customer, channel=kind, address=address))
                added = True
        for kind, value in row.references:
            if (kind.pk, value) not in references:
                new_references.append(Reference(customer=customer, kind=kind, value=value))
                added = True
        if row.unique_id not in existing:
            report.changed_ids.append(customer.pk)
            continue
        # A blank name in the file keeps the name we have; the tier is the file's (blank is standard).
        name = row.name or customer.name
        if (customer.name, customer.tier) != (name, row.tier):
            customer.name, customer.tier, customer.updated_at = name, row.tier, now
            changed.append(customer)
        elif not added:
            report.unchanged += 1
            continue
        report.updated += 1
        report.changed_ids.append(customer.pk)
    Customer.objects.bulk_update(changed, ["name", "tier", "updated_at"], batch_size=CHUNK)
    CustomerIdentity.objects.bulk_create(new_identities, batch_size=CHUNK)
    Reference.objects.bulk_create(new_references, batch_size=CHUNK)
    report.identities_added = len(new_identities)
    report.references_added = len(new_references)


def import_customers(*, file: IO[bytes] | IO[str], actor=None, actor_label: str = "") -> ImportReport:
    """Import a CRM CSV (``unique_id,name,tier,email,phone,whatsapp,references``); idempotent.

    Returns the report: counts when it worked; otherwise every error by row, and nothing written. Each customer
    created or changed gets an audit entry naming ``actor`` (a user) or ``actor_label`` (who ran a command).
    """
    report = ImportReport()
    try:
        text = _decode(file.read())
    except UnicodeDecodeError as exc:
        report.error(None, f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8")
        return report
    # One transaction for the checks and the writes: checking may record the "other" reference kind, and
    # that too is undone when the file is refused.
    with transaction.atomic():
        rows = _read(text, report)
        identities = _existing_identities(rows)
        references = _existing_references(rows)
        _check_ownership(rows, identities, references, report)
        if report.errors:
            transaction.set_rollback(True)
            report.errors.sort(key=lambda e: e.row or 0)
            return report
        try:
            with transaction.atomic():
                _write(rows, identities, references, report)
                audit.record_customers_changed(
                    actor=actor,
                    actor_label=actor_label,
                    customer_ids=report.changed_ids,
                    details={"import": "csv"},
                )
        except IntegrityError:
            # Intake recorded one of these addresses or references for someone while we imported.
            transaction.set_rollback(True)
            report = ImportReport(rows=report.rows)
            report.error(None, "customers changed while importing; nothing was imported; run it again")
    return report
