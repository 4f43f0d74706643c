import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_owner(apps, schema_editor):
    # The database being migrated, not the default one: `serve` migrates every alias (the channel
    # layer's too), and the default database may already be past later renames of Job's columns.
    db = schema_editor.connection.alias
    ApiTask = apps.get_model("api", "ApiTask")
    for task in ApiTask.objects.using(db).select_related("job"):
        task.owner_id = task.job.owner_id
        task.save(using=db, update_fields=["owner"])


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="apitask",
            name="owner",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="api_tasks", to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(fill_owner, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitask",
            name="owner",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tasks",
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="apitask",
            name="closed",
            field=models.BooleanField(default=False, help_text="Every result (or the error) was pushed, or there is no session to push to."),
        ),
        migrations.AddConstraint(
            model_name="apitask",
            constraint=models.UniqueConstraint(fields=("owner", "task_uuid"), name="one_api_task_per_uuid"),
        ),
    ]
