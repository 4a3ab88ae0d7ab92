"""StyleCam, the product, in four rooms around a composition root:

- ``app.live``: the live pipeline (sources, capture, detection, generation, compositing, the buffers and
  workers between them, the params every viewer edits);
- ``app.projection``: projections of faces (jobs, where a job runs, the saved-projection store, targets
  from uploads and frames, photos);
- ``app.web``: the web layer (app factory, auth, page and stream, JSON API, errors, the server);
- ``app.cli``: the command line (``python -m app`` / ``stylecam``).

``app.composition`` builds the first two and hands the web layer narrow views of them; ``app.images``
is the one place images change between the app's BGR arrays and the engine's RGB tensors.
"""
