"""The stepsComparison task: "compare steps" through the API, one ordinary imageInference task per
cell, each fetched with getResponse."""

import uuid

from tests.api.conftest import WS_DB
from tests.api.test_http import post
from webapp.studio.models import Comparison, Job


def comparison(**fields):
    return {"taskType": "stepsComparison", "taskUUID": str(uuid.uuid4()), "model": "stepwise:1@1",
            "positivePrompt": "a red circle", "width": 128, "height": 128, "seed": 42, **fields}


@WS_DB
def test_it_answers_at_once_with_one_task_per_cell_then_get_response(client, alice_key, builtin_model,
                                                                      worker_threads):
    task = comparison(compareSteps=[4, 8], compareSchedulers=["Euler", "UniPC"], outputType="URL")
    body = post(client, [task], key=alice_key).json()
    [reply] = body["data"]
    assert reply["taskType"] == "stepsComparison" and reply["taskUUID"] == task["taskUUID"]
    assert reply["seed"] == 42 and reply["compareSteps"] == [4, 8]
    assert sorted((c["scheduler"], c["steps"]) for c in reply["cells"]) == [("Euler", 4), ("Euler", 8),
                                                                            ("UniPC", 4), ("UniPC", 8)]
    assert reply["gridURL"].endswith(f"/compare/{reply['comparisonUUID']}/")
    assert Comparison.objects.get().jobs.filter(origin=Job.Origin.API).count() == 4
    for thread in worker_threads:
        thread.join(30)
    for cell in reply["cells"]:
        [item] = post(client, [{"taskType": "getResponse", "taskUUID": cell["taskUUID"]}], key=alice_key).json()["data"]
        assert item["status"] == "success" and item["seed"] == 42 and item["imageURL"]


@WS_DB
def test_it_names_bad_fields_and_stores_nothing(client, alice_key, builtin_model):
    for task, parameter in [(comparison(compareSteps=[4, 4]), "compareSteps"),
                            (comparison(compareSchedulers=["Nope", "Euler"]), "compareSchedulers"),
                            (comparison(deliveryMethod="sync"), "deliveryMethod"),
                            (comparison(numberResults=2), "numberResults")]:
        [error] = post(client, [task], key=alice_key).json()["errors"]
        assert error["parameter"] == parameter and error["taskUUID"] == task["taskUUID"]
    assert not Comparison.objects.exists() and not Job.objects.exists()
    task = comparison()
    post(client, [task], key=alice_key)
    [error] = post(client, [task], key=alice_key).json()["errors"]
    assert error["code"] == "conflictTaskUUID"
