from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.api import views as api_views
from webapp.studio import files, health
from webapp.studio.views import account, boards, compare, create, docs, gallery, home, jobs, steps_profile, styles

urlpatterns = [
    path("", home.home, name="home"),
    path("create/<slug:task>/", create.create, name="create"),
    path("create/<slug:task>/advice/", create.create_advice, name="create_advice"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("compare/<uuid:comparison_id>/", compare.comparison_detail, name="comparison_detail"),
    path("compare/<uuid:comparison_id>/grid.png", compare.comparison_png, name="comparison_png"),
    path("models/<int:model_id>/steps/", steps_profile.model_steps, name="model_steps"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/selected/", gallery.gallery_bulk, name="gallery_bulk"),
    path("images/<uuid:image_id>/", gallery.image_detail, name="image_detail"),
    path("images/<uuid:image_id>/visibility/", gallery.image_visibility, name="image_visibility"),
    path("images/<uuid:image_id>/delete/", gallery.image_delete, name="image_delete"),
    path("images/<uuid:image_id>/favourite/", gallery.image_favourite, name="image_favourite"),
    path("boards/", boards.board_list, name="board_list"),
    path("boards/new/", boards.board_create, name="board_create"),
    path("boards/add/", boards.board_add, name="board_add"),
    path("boards/<uuid:board_id>/remove/", boards.board_remove, name="board_remove"),
    path("boards/<uuid:board_id>/visibility/", boards.board_visibility, name="board_visibility"),
    path("boards/<uuid:board_id>/delete/", boards.board_delete, name="board_delete"),
    path("styles/new/", styles.style_create, name="style_create"),
    path("styles/<uuid:style_id>/delete/", styles.style_delete, name="style_delete"),
    path("account/", account.account, name="account"),
    path("account/team/", account.switch_team, name="switch_team"),
    path("guide/", docs.guide, name="guide"),
    path("docs/api/", docs.api_docs, name="api_docs"),
    # Files are only ever served through access checks, or through signed, expiring links.
    path("files/images/<uuid:image_id>.png", files.image_file, name="image_file"),
    path("files/images/<uuid:image_id>/download/", files.image_download, name="image_download"),
    path("files/thumbs/<uuid:image_id>.webp", files.image_thumb, name="image_thumb"),
    path("files/jobs/<uuid:job_id>/steps/<int:image_index>/<int:step>.webp", files.step_preview, name="step_preview"),
    path("files/uploads/<uuid:upload_id>.png", files.upload_file, name="upload_file"),
    path("files/signed/<str:token>/", files.signed_file, name="signed_file"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("v1", api_views.runware_http, name="runware_http"),
    path("v1/", api_views.runware_http),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("account/api-keys/", api_views.api_key_create, name="api_key_create"),
    path("account/api-keys/<int:key_id>/revoke/", api_views.api_key_revoke, name="api_key_revoke"),
    path("files/signed/uploads/<str:token>/", api_views.signed_upload_file, name="api_signed_upload"),
]
