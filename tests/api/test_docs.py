from django.urls import reverse

from tests.conftest import PASSWORD


def test_the_api_docs_show_this_servers_urls_and_examples(client, alice, builtin_model, settings):
    settings.STEPWISE_GPU_HOUR_PRICE = 1.25
    assert client.login(username="alice", password=PASSWORD)
    response = client.get(reverse("api_docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "ws://testserver/v1" in page and "curl http://testserver/v1" in page
    assert 'model="stepwise:1@1"' in page
    for task_type in ("imageInference", "imageUpload", "modelSearch", "getResponse", "imageInferenceProgress"):
        assert task_type in page
    assert "includeProgress" in page and "includePreviews" in page
    assert "invalidApiKey" in page and "<strong>1.25</strong> per GPU hour" in page
    assert "Runware(api_key=" in page


def test_the_api_docs_document_steps_comparison(client, alice, builtin_model):
    assert client.login(username="alice", password=PASSWORD)
    page = client.get(reverse("api_docs")).content.decode()
    assert 'id="compare"' in page and "compareSteps" in page and "compareSchedulers" in page
    assert '"taskType": "stepsComparison"' in page


def test_the_api_docs_list_every_field_with_its_status(client, alice, builtin_model):
    from webapp.api.protocol import field_table

    assert client.login(username="alice", password=PASSWORD)
    page = client.get(reverse("api_docs")).content.decode()
    assert 'id="fields"' in page and 'id="webhooks"' in page
    for name in list(field_table.HONOURED) + list(field_table.REFUSED):
        assert f"<td><code>{name}</code></td>" in page, name
    assert "ignores unknown fields" not in page and "Runware ignores" not in page
    assert "unknownParameter" in page and "uploadFailed" in page
