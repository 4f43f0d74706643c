"""Studio pages, one module per area. Plain function views; every lookup goes through `access`,
every write through `services`.

- home: the start page
- create: the create form (and the advice it asks for while sliders move); its state in form_state
- jobs: job page, job list, cancel
- gallery: the gallery and an image's page, its visibility and deletion
- account: profile, default visibility, team switch
- docs: the steps guide and the API documentation
- presenters: what several pages show of a model, a task or a step plan
"""
