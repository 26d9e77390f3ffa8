# Viewers and creators (issue 5): training opt-out at creator and work level, the
# viewer's feed preference, and the AI-crawler hit log.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TRAINING_CHOICES = [
    ("default", "Use the default"),
    ("reserve", "Do not allow AI training"),
    ("allow", "Allow AI training"),
]


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("moderation", "0002_audit_log_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="CreatorSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("training", models.CharField(choices=TRAINING_CHOICES, default="default", max_length=8, verbose_name="AI training")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="moderation_creator_settings", to=settings.AUTH_USER_MODEL)),
            ],
            options={"verbose_name": "creator settings", "verbose_name_plural": "creator settings"},
        ),
        migrations.CreateModel(
            name="WorkTrainingOverride",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_id", models.CharField(max_length=64)),
                ("training", models.CharField(choices=TRAINING_CHOICES, default="default", max_length=8, verbose_name="AI training")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("content_type", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contenttypes.contenttype")),
            ],
            options={
                "verbose_name": "work training override",
                "verbose_name_plural": "work training overrides",
                "constraints": [models.UniqueConstraint(fields=("content_type", "object_id"), name="moderation_one_training_override_per_object")],
            },
        ),
        migrations.CreateModel(
            name="ViewerPreference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("ai_filter", models.CharField(choices=[("exclude", "Hide AI works"), ("include", "Show all works"), ("only", "AI works only")], default="exclude", max_length=8, verbose_name="AI works in feeds")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="moderation_viewer_preference", to=settings.AUTH_USER_MODEL)),
            ],
            options={"verbose_name": "viewer preference", "verbose_name_plural": "viewer preferences"},
        ),
        migrations.CreateModel(
            name="CrawlerHit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_id", models.CharField(blank=True, max_length=64)),
                ("crawler", models.CharField(max_length=64)),
                ("user_agent", models.CharField(blank=True, max_length=300)),
                ("path", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("content_type", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contenttypes.contenttype")),
                ("creator", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "AI crawler hit",
                "verbose_name_plural": "AI crawler hits",
                "indexes": [models.Index(fields=["creator", "created_at"], name="moderation_hit_creator")],
            },
        ),
    ]
