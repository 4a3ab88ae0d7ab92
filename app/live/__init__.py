"""The live pipeline: camera -> faces -> generated face -> composited JPEG frames, for every viewer."""
