"""Names that explain themselves: Job.request holds the validated parameters, Job.source the job's origin.

RenameField keeps the data (the columns are renamed in place); origin gains its choices.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("studio", "0003_modelentry_example_prompts")]

    operations = [
        migrations.RenameField(model_name="job", old_name="request", new_name="params"),
        migrations.AlterField(
            model_name="job",
            name="params",
            field=models.JSONField(help_text="The validated imageInference parameters (Runware field names)."),
        ),
        migrations.RenameField(model_name="job", old_name="source", new_name="origin"),
        migrations.AlterField(
            model_name="job",
            name="origin",
            field=models.CharField(choices=[("web", "Web"), ("api", "API")], default="web", max_length=10),
        ),
    ]
