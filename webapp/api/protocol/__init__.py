"""The Runware-compatible API's tasks, shared by the websocket (consumers.py) and HTTP (views.py).

Everything here is synchronous and transport-free: a task object goes in, result items or error
items come out, in Runware's shapes. The transports only parse, authenticate, send and wait.

- Every reply item carries `taskType` and `taskUUID`. Errors look like Runware's:
  `{"code", "message", "parameter", "type", "taskType", "taskUUID"}`.
- One bad task never fails the others: each is handled on its own.
- Nothing is half-stored: a task is validated completely before anything is written, and the job
  and its API record are written in one transaction.

The modules:
- errors.py: Runware-shaped error items, and the taskUUID check every task shares.
- dispatch.py: the request body as tasks, each task's type, `run_task` (and ping's pong).
- authentication.py: API keys, and the authenticated `Client`.
- image_inference.py, get_response.py, image_upload.py, model_search.py: one module per task type.
- results.py: an imageInference task's result items, with their costs.
- delivery.py: what a websocket session is still owed, and what it has been sent.
"""
