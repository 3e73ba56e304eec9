"""Where fercsv lives in public: one constant read by setup.py, the README badge and the notebook.

This module imports nothing, so ``setup.py`` can read it without installing anything.
"""

#: The project's public home (source, issues, releases).
HOME = "https://github.com/fercsv/fercsv"

#: The starter notebook's path inside the repository.
NOTEBOOK = "colab/fercsv_starter.ipynb"

#: Opens the starter notebook in Google Colab.
COLAB_URL = "https://colab.research.google.com/github/" + HOME.split("github.com/", 1)[1] + \
    "/blob/main/" + NOTEBOOK

#: The "Open in Colab" badge, as Markdown.
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB_URL})"

#: The pip requirement that installs fercsv from its home instead of the package index.
GIT_REQUIREMENT = f"git+{HOME}"
