"""Self-contained widgets the main window is composed of.

Each widget takes and emits the domain's own types (``PromptTemplate``, value dicts) and does its
expensive work off the GUI thread, so the window only wires signals together.
"""
