"""Make your own style: face datasets from photos and videos, and the commands that train and evaluate on them."""
