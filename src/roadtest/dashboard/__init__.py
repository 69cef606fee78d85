"""The dashboard: Streamlit pages over the warehouse, lake and registry, in pt-BR and English.

``streamlit run src/roadtest/dashboard/app.py`` (or ``roadtest dashboard``)
starts it. Pages read the stores read-only and call the API for actions;
nothing here imports torch.
"""
