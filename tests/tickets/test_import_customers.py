"""The CRM customer import: every row checked first, nothing written on any error, idempotent."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import BaseCommand

from tests.factories import CustomerFactory, IdentityFactory, ReferenceFactory
from tickets.models import Customer, CustomerIdentity, Reference, ReferenceKind
from tickets.services.imports import import_customers

pytestmark = pytest.mark.django_db

HEADER = "unique_id,name,tier,email,phone,whatsapp,references\n"
GOOD = HEADER + (
    "ABC,ABC Ltd,premium,Alex@ABC.example,+44 7700 900100,447700900100,ORD-1;acc-77\n"
    "DEF,Dee Eff,,dee@example.com,07700 900101,,\n"
)


def run(text: str | bytes):
    return import_customers(file=io.BytesIO(text.encode() if isinstance(text, str) else text))


def snapshot():
    return (
        sorted(Customer.objects.values_list("unique_id", "name", "tier", "updated_at")),
        sorted(CustomerIdentity.objects.values_list("customer__unique_id", "channel", "address")),
        sorted(Reference.objects.values_list("customer__unique_id", "kind__code", "value")),
    )


def errors(report) -> list[str]:
    return [str(e) for e in report.errors]


def test_imports_customers_with_normalised_identities_and_classified_references():
    report = run(GOOD)
    assert report.ok, report.summary()
    assert (report.rows, report.created, report.updated, report.unchanged) == (2, 2, 0, 0)
    assert (report.identities_added, report.references_added) == (5, 2)
    abc = Customer.objects.get(unique_id="ABC")
    assert (abc.name, abc.tier) == ("ABC Ltd", "premium")
    assert set(abc.identities.values_list("channel", "address")) == {
        ("email", "alex@abc.example"),
        ("phone", "+447700900100"),
        ("whatsapp", "+447700900100"),
    }
    assert set(abc.references.values_list("kind__code", "value")) == {
        ("order", "ORD-1"),
        ("account", "ACC-77"),
    }
    dee = Customer.objects.get(unique_id="DEF")
    assert dee.tier == "standard"  # blank tier
    assert set(dee.identities.values_list("channel", "address")) == {
        ("email", "dee@example.com"),
        ("phone", "+447700900101"),  # a national number, read in the default region
    }
    assert "2 customer(s) created" in report.summary()


def test_a_reference_of_no_known_kind_is_kept_as_other():
    assert run(HEADER + "K1,Kim,,,,,INV-2024-17\n").ok
    assert Reference.objects.get(value="INV-2024-17").kind.code == "other"


def test_running_the_same_file_twice_changes_nothing():
    run(GOOD)
    before = snapshot()
    again = run(GOOD)
    assert again.ok
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (again.identities_added, again.references_added) == (0, 0)
    assert snapshot() == before


def test_changes_update_names_and_tiers_and_add_what_is_new():
    run(GOOD)
    changed = run(
        HEADER
        + "ABC,ABC Limited,vip,alex@abc.example,,,ORD-1;ORD-3\n"  # renamed, new tier, one new reference
        + "DEF,,,dee@example.com,,447700900101,\n"  # blank name keeps the name; a new WhatsApp identity
    )
    assert changed.ok
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 0)
    assert (changed.identities_added, changed.references_added) == (1, 1)
    abc = Customer.objects.get(unique_id="ABC")
    assert (abc.name, abc.tier) == ("ABC Limited", "vip")
    # Adding never takes away: the addresses the file no longer lists are kept.
    assert abc.identities.count() == 3 and abc.references.count() == 3
    assert Customer.objects.get(unique_id="DEF").name == "Dee Eff"


def test_any_bad_row_imports_nothing_and_every_error_names_its_row():
    text = (
        HEADER
        + "GOOD,Good,,good@example.com,,,\n"  # row 2
        + ",No id,,,,,\n"  # row 3
        + "\n"  # row 4: blank, skipped but counted, as a spreadsheet shows it
        + "X,Bad tier,gold,not-an-email,12,,\n"  # row 5
        + "GOOD,Again,,,,,\n"  # row 6
        + "Y,Too few\n"  # row 7
        + f"{'Z' * 65},Long,,,,,\n"  # row 8
    )
    report = run(text)
    assert not report.ok
    assert errors(report) == [
        "row 3: unique_id is empty",
        "row 5: tier 'gold' is not one of standard, premium, vip",
        "row 5: email: 'not-an-email' is not an e-mail address",
        "row 5: phone: '12' is not a possible phone number",
        "row 6: unique_id GOOD is also on row 2",
        "row 7: has 2 cells; expected 7 (unique_id,name,tier,email,phone,whatsapp,references)",
        "row 8: unique_id is longer than 64 characters",
    ]
    assert not Customer.objects.exists() and not CustomerIdentity.objects.exists()
    assert "nothing was imported" in report.summary()


def test_a_quoted_cell_over_two_lines_is_one_row():
    report = run(HEADER + '"Q1","Quinn\nand Co",,,,,\nQ2,Q,gold,,,,\n')
    assert errors(report) == ["row 3: tier 'gold' is not one of standard, premium, vip"]


def test_an_address_or_reference_of_another_customer_is_an_error_never_moved():
    owner = CustomerFactory(unique_id="OWNER")
    IdentityFactory(customer=owner, channel="email", address="alex@abc.example")
    ReferenceFactory(customer=owner, value="ORD-1")
    report = run(HEADER + "NEW,New,,ALEX@abc.example,,,ORD-1\nOWNER,Owner,,alex@abc.example,,,ORD-1\n")
    assert errors(report) == [
        "row 2: alex@abc.example already belongs to customer OWNER",
        "row 2: reference ORD-1 already belongs to customer OWNER",
        "row 3: alex@abc.example is also given to NEW on row 2",
        "row 3: reference ORD-1 is also given to NEW on row 2",
    ]
    assert not Customer.objects.filter(unique_id="NEW").exists()
    assert CustomerIdentity.objects.get(address="alex@abc.example").customer == owner
    assert Reference.objects.get(value="ORD-1").customer == owner


def test_the_same_address_on_two_rows_is_an_error():
    report = run(HEADER + "A1,A,,same@example.com,,,\nA2,B,,Same@Example.com,,,\n")
    assert errors(report) == ["row 3: same@example.com is also given to A1 on row 2"]
    assert not Customer.objects.exists()


def test_a_refused_file_leaves_no_trace_not_even_the_other_reference_kind():
    ReferenceKind.objects.filter(code="other").delete()
    report = run(HEADER + "K1,Kim,,,,,INV-1\nK2,Kai,gold,,,,\n")
    assert not report.ok
    assert not ReferenceKind.objects.filter(code="other").exists() and not Customer.objects.exists()


@pytest.mark.parametrize(
    "header, detail",
    [
        ("unique_id,name,tier,email,phone,whatsapp\n", "missing references"),
        ("unique_id,name,tier,email,phone,whatsapp,references,notes\n", "unexpected notes"),
        ("name,unique_id,tier,email,phone,whatsapp,references\n", "columns in another order"),
        ("id,name\n", "missing unique_id, tier, email, phone, whatsapp, references; unexpected id"),
    ],
)
def test_a_wrong_header_is_refused(header, detail):
    report = run(header + "1,x,,,,,\n")
    assert errors(report) == [
        f"row 1: the header must be exactly unique_id,name,tier,email,phone,whatsapp,references ({detail})"
    ]
    assert not Customer.objects.exists()


def test_an_empty_file_and_a_file_that_is_not_utf8_are_refused():
    assert errors(run("")) == [
        "file: the file is empty; expected the header unique_id,name,tier,email,phone,whatsapp,references"
    ]
    latin1 = (HEADER + "J1,Jos\xe9,,,,,\n").encode("latin-1")
    assert errors(run(latin1))[0].startswith("file: the file is not UTF-8 text")


def test_a_byte_order_mark_and_windows_line_ends_are_fine():
    text = "\ufeff" + GOOD.replace("\n", "\r\n")
    assert run(text.encode("utf-8")).ok
    assert Customer.objects.count() == 2


def test_the_command_prints_the_counts(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    call_command("import_customers", str(good))
    assert "2 customer(s) created, 0 updated, 0 unchanged; 5 identities and 2 references added" in (
        capsys.readouterr().out
    )
    call_command("import_customers", str(good))
    assert "0 customer(s) created, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_the_command_refuses_a_bad_file_with_the_report(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Z,Zed,gold,,,,\n")
    with pytest.raises(CommandError, match=r"(?s)1 error\(s\); nothing was imported.*row 2: tier 'gold'"):
        call_command("import_customers", str(bad))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_customers", str(tmp_path / "missing.csv"))
    assert not Customer.objects.exists()


def test_the_command_exits_non_zero_on_errors(tmp_path, capsys):
    """As from a shell: ``manage.py import_customers bad.csv`` prints the report and exits 1."""
    from tickets.management.commands.import_customers import Command

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ",No id,,,,,\n")
    command: BaseCommand = Command()
    with pytest.raises(SystemExit) as exit_info:
        command.run_from_argv(["manage.py", "import_customers", str(bad)])
    assert exit_info.value.code == 1
    assert "row 2: unique_id is empty" in capsys.readouterr().err
