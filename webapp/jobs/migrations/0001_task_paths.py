"""The generation tasks moved from webapp.studio.tasks to webapp.jobs.queue: point waiting tasks there."""

from django.db import migrations

MOVED = {
    "webapp.studio.tasks.generate_images": "webapp.jobs.queue.generate_images",
    "webapp.studio.tasks.test_load_model": "webapp.jobs.queue.test_load_model",
}


def _rename(apps, schema_editor, renames):
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    results = DBTaskResult.objects.using(schema_editor.connection.alias)
    for old, new in renames.items():
        results.filter(task_path=old).update(task_path=new)


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, MOVED)


def backwards(apps, schema_editor):
    _rename(apps, schema_editor, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [("django_tasks_database", "0021_conditional_partial_index_ordering")]
    operations = [migrations.RunPython(forwards, backwards)]
