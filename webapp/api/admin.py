from django.contrib import admin, messages

from webapp.api.models import ApiKey, ApiSession, ApiTask
from webapp.api.services import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # Keys are created by their owner (account page) or with `manage.py create_api_key`, which show
    # the secret once; the admin only lists and revokes.
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key)
            count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


@admin.register(ApiSession)
class ApiSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "api_key", "channel_name", "created_at", "last_seen_at"]
    readonly_fields = ["id", "api_key", "channel_name", "created_at", "last_seen_at"]

    def has_add_permission(self, request):
        return False


@admin.register(ApiTask)
class ApiTaskAdmin(admin.ModelAdmin):
    list_display = ["task_uuid", "job", "api_key", "session", "delivered", "closed", "created_at"]
    list_filter = ["closed"]
    search_fields = ["task_uuid"]
    readonly_fields = ["job", "api_key", "session", "task_uuid", "output_types", "delivered", "closed", "created_at"]

    def has_add_permission(self, request):
        return False
