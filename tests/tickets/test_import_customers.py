import io

import pytest
from django.core.management import CommandError, call_command

from tickets.models import Customer, CustomerIdentity, Reference
from tickets.services.imports import import_customers

pytestmark = pytest.mark.django_db

HEADER = "unique_id,name,tier,email,phone,whatsapp,references\n"
GOOD = HEADER + (
    "ABC,ABC Ltd,premium,alex@abc.example,+44 7700 900100,447700900100,ORD-1;ACC-77\n"
    "DEF,Dee Eff,,dee@example.com,,,\n"
)


def run(text: str):
    return import_customers(file=io.BytesIO(text.encode()))


def test_imports_customers_identities_and_references():
    report = run(GOOD)
    assert report.ok and (report.created, report.identities_added, report.references_added) == (2, 4, 2)
    abc = Customer.objects.get(unique_id="ABC")
    assert abc.tier == "premium"
    assert set(abc.identities.values_list("channel", "address")) == {
        ("email", "alex@abc.example"),
        ("phone", "+447700900100"),
        ("whatsapp", "+447700900100"),
    }
    assert set(abc.references.values_list("kind__code", "value")) == {
        ("order", "ORD-1"),
        ("account", "ACC-77"),
    }
    assert Customer.objects.get(unique_id="DEF").tier == "standard"


def test_is_idempotent_and_updates_changes():
    run(GOOD)
    again = run(GOOD)
    assert (again.created, again.updated, again.unchanged, again.identities_added) == (0, 0, 2, 0)
    changed = run(GOOD.replace("ABC Ltd,premium", "ABC Limited,vip"))
    assert changed.updated == 1 and Customer.objects.get(unique_id="ABC").tier == "vip"


def test_any_bad_row_imports_nothing_and_names_every_row():
    text = HEADER + "GOOD,Good,,good@example.com,,,\n,No id,,,,,\nX,Bad tier,gold,not-an-email,,,\n"
    report = run(text)
    assert not report.ok
    assert report.errors == [
        "row 3: unique_id is empty",
        "row 4: tier 'gold' is not one of standard, premium, vip",
        "row 4: email: 'not-an-email' is not an e-mail address",
    ]
    assert not Customer.objects.exists() and not CustomerIdentity.objects.exists()


def test_an_address_or_reference_of_another_customer_is_an_error():
    run(GOOD)
    report = run(HEADER + "NEW,New,,alex@abc.example,,,ORD-1\n")
    assert report.errors == [
        "row 2: alex@abc.example already belongs to customer ABC",
        "row 2: reference ORD-1 already belongs to customer ABC",
    ]
    assert not Customer.objects.filter(unique_id="NEW").exists()
    assert Reference.objects.get(value="ORD-1").customer.unique_id == "ABC"


def test_wrong_header_is_refused():
    report = run("id,name\n1,x\n")
    assert report.errors and report.errors[0].startswith("header: expected unique_id,name,tier")


def test_command(tmp_path, capsys):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(HEADER + "Z,Zed,gold,,,,\n")
    call_command("import_customers", str(good))
    assert "2 created" in capsys.readouterr().out
    with pytest.raises(CommandError, match="row 2: tier"):
        call_command("import_customers", str(bad))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_customers", str(tmp_path / "missing.csv"))
