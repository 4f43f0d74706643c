from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("studio", "0002_profile_queue_limit")]

    operations = [
        migrations.AddField(
            model_name="modelentry",
            name="example_prompts",
            field=models.TextField(
                blank=True, help_text="One prompt per line, offered on the create page when this model is picked."
            ),
        ),
    ]
