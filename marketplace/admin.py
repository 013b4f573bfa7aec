"""Tags. The moderators' screens for users and jobs, whose actions call moderation services, are in
moderation/admin.py (a layer above this one)."""

from django.contrib import admin

from marketplace.models import Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)
