"""The studio room: what the product adds to ``stylegan2.studio`` (its commands are in ``app.cli.studio``
and ``app.cli.directions``, its page API in ``app.web.studio_api``).

| module | what it gives |
|---|---|
| `latent_sources` | seed lists ("1-8,42") and saved projections as faces |
| `grids` | labelled grids of faces (`GridCanvas`) |
| `measurements` | YuNet landmark and FFHQ-layout colour measures of a face |
| `labelled` | sample, measure and fit: named trait directions without manual search |
| `service` | the page's studio: seed grids, the live face's mixing matrix, interpolation strips, checked and bounded |
| `jobs` | the background worker that renders those sheets row by row, one at a time, at a lower priority |
"""
