"""The ledger is append-only in the database itself: UPDATE and DELETE of a CreditTransaction
raise, whoever issues them (TRUNCATE, used only by test teardown, is not a row operation)."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_credittransaction is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_ledger_append_only
    BEFORE UPDATE OR DELETE ON billing_credittransaction
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS billing_ledger_append_only ON billing_credittransaction;
DROP FUNCTION IF EXISTS billing_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_ledger_payments_vouchers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
