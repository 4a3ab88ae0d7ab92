"""The studio room of the product: the command-line side of ``stylegan2.studio`` and the face measurements
that label trait directions.

| module | what it gives |
|---|---|
| `commands` | the commands `generate`, `mix`, `interpolate`, `blend`; `COMMANDS` lists them and `directions` |
| `directions_command` | the command `directions`: SeFa, PCA, labelled or imported directions, and a preview |
| `command_support` | their shared options, model loading, progress bars, grid filling and one-line errors |
| `latent_sources` | seed lists ("1-8,42") and saved projections as faces |
| `images` | labelled grids (`GridCanvas`), stills, GIF and MP4, written atomically |
| `measurements` | YuNet landmark and FFHQ-layout colour measures of a face |
| `labelled` | sample, measure and fit: named trait directions without manual search |
"""
