"""The six pages; each module's ``render(ctx)`` draws one page from ``data`` functions.

The folder is not called ``pages``: Streamlit would list a ``pages`` folder next
to ``app.py`` as pages of its own, beside the navigation ``app.py`` builds.
"""
