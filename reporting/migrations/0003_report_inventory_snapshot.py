from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_report_template_viewer"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="inventory",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The inventory figures the report was built from.",
            ),
        ),
        migrations.AddField(
            model_name="report",
            name="record_ids",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
    ]
