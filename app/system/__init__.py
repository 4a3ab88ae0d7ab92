"""What the machine StyleCam runs on offers: facts gathered once (`facts`), the Jetson's L4T release
(`jetson`), the checks of ``python -m app doctor`` and the choices it leads to (`checks`)."""
