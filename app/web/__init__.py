"""The web layer: the page, the MJPEG stream, the JSON API and the server that runs them."""
