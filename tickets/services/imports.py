"""Customers from a CRM export (CSV): all rows checked first; one error and nothing is imported."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction

from tickets.errors import HelpdeskError
from tickets.models import Customer, CustomerIdentity, Reference
from tickets.services.customers import classify_reference, normalise_address

COLUMNS = ["unique_id", "name", "tier", "email", "phone", "whatsapp", "references"]
# CSV column → the channel whose address rules read it.
ADDRESS_COLUMNS = {"email": "email", "phone": "voice", "whatsapp": "whatsapp"}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    identities_added: int = 0
    references_added: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s); nothing was imported:\n" + "\n".join(self.errors)
        return (
            f"customers: {self.created} created, {self.updated} updated, {self.unchanged} unchanged; "
            f"{self.identities_added} identities and {self.references_added} references added"
        )


@dataclass
class _Row:
    number: int
    unique_id: str
    name: str
    tier: str
    identities: list[tuple[str, str]]  # (kind, address)
    references: list[tuple[object, str]]  # (ReferenceKind, value)


def _read(text: str, report: ImportReport) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = "; ".join(
            p
            for p in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
            )
            if p
        )
        report.errors.append(f"header: expected {','.join(COLUMNS)} ({detail or 'in that order'})")
        return []
    rows, seen = [], {}
    for number, raw in enumerate(reader, start=2):  # row 1 is the header, as a spreadsheet shows it
        values = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        problems = []
        unique_id = values["unique_id"]
        if not unique_id:
            problems.append("unique_id is empty")
        elif unique_id in seen:
            problems.append(f"unique_id {unique_id} repeats row {seen[unique_id]}")
        seen.setdefault(unique_id, number)
        tier = values["tier"].lower() or Customer.Tier.STANDARD
        if tier not in Customer.Tier.values:
            problems.append(f"tier {values['tier']!r} is not one of {', '.join(Customer.Tier.values)}")
        identities = []
        for column, channel in ADDRESS_COLUMNS.items():
            if values[column]:
                try:
                    identities.append(normalise_address(channel, values[column]))
                except HelpdeskError as exc:
                    problems.append(f"{column}: {exc}")
        references = []
        for value in filter(None, (v.strip() for v in values["references"].split(";"))):
            references.append(classify_reference(value))
        if problems:
            report.errors += [f"row {number}: {p}" for p in problems]
        else:
            rows.append(_Row(number, unique_id, values["name"], tier, identities, references))
    return rows


def _check_ownership(rows: list[_Row], report: ImportReport) -> None:
    """An address or reference already belonging to another customer is an error, never moved."""
    owners = {
        (i.channel, i.address): i.customer.unique_id
        for i in CustomerIdentity.objects.select_related("customer").filter(
            address__in=[a for r in rows for _, a in r.identities]
        )
    }
    refs = {
        (r.kind_id, r.value): r.customer.unique_id
        for r in Reference.objects.select_related("customer").filter(
            value__in=[v for r in rows for _, v in r.references]
        )
    }
    claimed: dict[tuple, tuple[str, int]] = {}
    for row in rows:
        for key in row.identities:
            owner = owners.get(key)
            if owner and owner != row.unique_id:
                report.errors.append(f"row {row.number}: {key[1]} already belongs to customer {owner}")
            other = claimed.setdefault(key, (row.unique_id, row.number))
            if other[0] != row.unique_id:
                report.errors.append(
                    f"row {row.number}: {key[1]} is also given to {other[0]} on row {other[1]}"
                )
        for kind, value in row.references:
            owner = refs.get((kind.pk, value))
            if owner and owner != row.unique_id:
                report.errors.append(
                    f"row {row.number}: reference {value} already belongs to customer {owner}"
                )


def import_customers(*, file) -> ImportReport:
    """Import a CRM CSV (``unique_id,name,tier,email,phone,whatsapp,references``). Idempotent."""
    data = file.read()
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    report = ImportReport()
    rows = _read(text, report)
    if not report.errors:
        _check_ownership(rows, report)
    if report.errors:
        return report
    with transaction.atomic():
        for row in rows:
            customer, created = Customer.objects.get_or_create(
                unique_id=row.unique_id, defaults={"name": row.name, "tier": row.tier}
            )
            if created:
                report.created += 1
            elif (customer.name, customer.tier) != (row.name or customer.name, row.tier):
                customer.name, customer.tier = row.name or customer.name, row.tier
                customer.save(update_fields=["name", "tier", "updated_at"])
                report.updated += 1
            else:
                report.unchanged += 1
            for kind, address in row.identities:
                _, added = CustomerIdentity.objects.get_or_create(
                    channel=kind, address=address, defaults={"customer": customer}
                )
                report.identities_added += added
            for kind, value in row.references:
                _, added = Reference.objects.get_or_create(
                    kind=kind, value=value, defaults={"customer": customer}
                )
                report.references_added += added
    return report
